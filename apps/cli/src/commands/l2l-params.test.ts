import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baselineParameters } from '@ip2/l2l';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { planL2l, type L2lFlags } from './l2l.js';

let stderr = '';
beforeEach(() => {
  stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

const flags = (over: Partial<L2lFlags>): L2lFlags => ({
  family: 'sma',
  model: 'lstm',
  out: 'unused',
  preset: 'tiny',
  ...over,
});

describe('ip2 l2l --params', () => {
  it('gives a baseline the hidden size whose parameter count is nearest', () => {
    // sma: 11 inputs, 3 outputs.
    expect(planL2l(flags({ params: '45103' })).hidden).toBe(100);
    expect(planL2l(flags({ model: 'attn-h4', params: '50000' })).hidden % 4).toBe(0);
    const near = planL2l(flags({ model: 'gru', params: '11503' })).hidden;
    expect(Math.abs(baselineParameters('gru', 11, 3, near) - 11503)).toBeLessThanOrEqual(
      Math.abs(baselineParameters('gru', 11, 3, near + 1) - 11503),
    );
  });

  it('is refused with --hidden, for a spiking model, or when not a positive integer (exit 2, naming the flag)', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'lstm', '--params', '1000', '--hidden', '8'], /--params: give --params or --hidden, not both/],
      [['--model', 'ip2', '--params', '1000'], /--params: only the baselines \(rnn, lstm/],
      [['--model', 'gru', '--params', 'many'], /--params: expected a positive integer/],
    ];
    for (const [args, message] of cases) {
      stderr = '';
      const code = await main(['l2l', ...args, '--out', mkdtempSync(join(tmpdir(), 'ip2-cli-')), '--quiet']);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });

  it('results.json states the parameter count and the engine that ran', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ip2-cli-'));
    const args = ['--preset', 'tiny', '--tasks', '1', '--cap', '30', '--window', '10', '--out', dir, '--quiet'];
    expect(await main(['l2l', '--model', 'gru', '--params', '2000', ...args])).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
      definition: { hidden: number };
      parameters: number;
      engine: { engine: string };
    };
    expect(results.parameters).toBe(baselineParameters('gru', 11, 3, results.definition.hidden));
    expect(results.engine.engine).toBe('fused');
  });
});
