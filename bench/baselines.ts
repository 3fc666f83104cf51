/**
 * Training-iteration benchmark of the non-spiking baselines (SCIENCE.md §7), each model's engines
 * side by side in one run:
 *   npm run bench:baselines [-- --models rnn,lstm,gru,attn-h1,attn-h2,attn-h4 --hidden 64,100 --rounds 15 --no-torch]
 *                           [--no-tfjs] [--family sma --batch 1]
 *
 * For each model and hidden size, every engine runs in its own child process (peak RSS per engine;
 * TensorFlow.js resolves its backend once per process): the fused engine, TensorFlow.js on wasm, and
 * PyTorch (bench/torch_baselines.py, at its best as ENVIRONMENT.md describes) where `torch` imports.
 * The parent interleaves the engines round by round (A B C A B C …, the machines here drift between
 * speed states); each round runs ≈ 30 ms of iterations per engine after 3 warm-up iterations.
 * Every engine trains the same network (the TensorFlow.js initialisation, which the fused engine
 * shares and PyTorch loads) on the same batch: one training batch of an sma instance, batch 1,
 * 100 steps of 20 ms (`--family` and `--batch` choose another family's instance and batch size, e.g.
 * `dms` at its balanced batch of 4, the shape of the reproduction study's claim-3 runs). Reported: median and quartiles of the wall time, the median of each round's
 * CPU time per iteration (less sensitive to other work on a shared machine), ratios to the fused
 * engine, dense-equivalent GFLOP/s (the same count for every engine, from the wall time), peak RSS
 * and the first iteration's loss.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BASELINE_MODELS,
  baselineParameters,
  createBaselineLearner,
  type BaselineModel,
  type LearnerSpec,
} from '@ip2/l2l';
import type { TfBackendName } from '@ip2/snn';
import { createInstance, trainingBatch } from '@ip2/tasks';
import { quantile } from './stats.js';

const DT = 20;
/** `--family F` and `--batch B` (the parent's flags, passed on to its children). */
const argAfter = (flag: string, fallback: string): string => {
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const FAMILY = argAfter('--family', 'sma');
const BATCH = Number(argAfter('--batch', '1'));
if (!Number.isInteger(BATCH) || BATCH < 1) {
  console.error(`bench:baselines: --batch must be a positive integer, got '${argAfter('--batch', '1')}'`);
  process.exit(2);
}
const instance = (() => {
  try {
    return createInstance(FAMILY, 1, 0);
  } catch (e) {
    console.error(`bench:baselines: --family: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
})();
const batch = trainingBatch(instance, 1, 0, BATCH, DT);

const spec = (model: string, hidden: number): LearnerSpec => ({
  model,
  nIn: instance.nIn,
  nOut: instance.nOut,
  hidden,
  dt: DT,
  seed: 1,
  loss: 'mse',
  lr: 1e-3,
});

/** Dense-equivalent FLOPs of one training iteration: forward, weight gradients and the backward pass to the hidden state. */
function flops(model: string, hidden: number): number {
  const { steps: T, batch: B, nIn, nOut } = batch;
  const n = hidden;
  // Multiply-adds per row of a layer x W with W [k][m]: forward, ∂W, and ∂x unless x is the input.
  const layer = (k: number, m: number, input = false) => (input ? 2 : 3) * k * m;
  if (model.startsWith('attn')) {
    const m = 4 * n;
    const rows = layer(nIn, n, true) + layer(n, 3 * n) + layer(n, n) + layer(n, m) + layer(m, n) + layer(n, nOut);
    // q kᵀ and P v over the causal half, forward and backward (∂P, ∂v, ∂q, ∂k).
    const attention = 6 * ((T * (T + 1)) / 2) * n;
    return 2 * B * (T * rows + attention);
  }
  const gates = model === 'lstm' ? 4 : model === 'gru' ? 3 : 1;
  return 2 * T * B * (layer(nIn, gates * n, true) + layer(n, gates * n) + layer(n, nOut));
}

// ---------------------------------------------------------------- child side

async function child(engine: 'fused' | 'tfjs', model: string, hidden: number): Promise<void> {
  const out = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  // The parent picks the TF.js backend through IP2_TF_BACKEND (see nodeChild).
  const backend = process.env.IP2_TF_BACKEND as TfBackendName | undefined;
  const learner = await createBaselineLearner(spec(model, hidden), {}, undefined, {
    engine,
    ...(backend ? { tf: { backend, forcedBy: 'IP2_TF_BACKEND' } } : {}),
  });
  const t0 = performance.now();
  const loss0 = learner.trainStep(batch).loss;
  for (let i = 0; i < 2; i++) learner.trainStep(batch);
  out({ ready: true, loss0, warmMs: (performance.now() - t0) / 3, info: learner.info });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, n] = line.trim().split(/\s+/);
    if (cmd === 'run') {
      const ms: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < Number(n); i++) {
        const t = performance.now();
        learner.trainStep(batch);
        ms.push(performance.now() - t);
      }
      const cpu = process.cpuUsage(cpu0);
      out({ ms, cpuMs: (cpu.user + cpu.system) / 1000 / Number(n) });
    } else if (cmd === 'quit') {
      out({ maxRssMiB: process.resourceUsage().maxRSS / 1024 });
      process.exit(0);
    }
  }
}

// ---------------------------------------------------------------- parent side

class Runner {
  readonly ms: number[] = [];
  /** CPU time per iteration of each round (less sensitive than wall time to other work on the machine). */
  readonly cpuMs: number[] = [];
  loss0 = Number.NaN;
  warmMs = Number.NaN;
  rss = Number.NaN;
  error: string | null = null;
  private readonly lines: AsyncIterator<string>;

  constructor(
    readonly label: string,
    readonly proc: ChildProcess,
  ) {
    this.lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    proc.on('error', (e) => (this.error = `could not start: ${e.message}`));
    proc.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      if (!/backend:|^ip2:|tfjs-node|={10}|^\s*$/.test(text)) process.stderr.write(`[${label}] ${text}`);
    });
  }

  private async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('child exited');
    return JSON.parse(r.value) as Record<string, unknown>;
  }

  async ready(): Promise<void> {
    try {
      const r = await this.next();
      if (typeof r.error === 'string') this.error = r.error;
      else {
        this.loss0 = r.loss0 as number;
        this.warmMs = r.warmMs as number;
      }
    } catch (e) {
      this.error ??= e instanceof Error ? e.message : String(e);
    }
  }

  async run(n: number): Promise<void> {
    this.proc.stdin!.write(`run ${n}\n`);
    const r = await this.next();
    this.ms.push(...(r.ms as number[]));
    this.cpuMs.push(r.cpuMs as number);
  }

  async quit(): Promise<void> {
    this.proc.stdin!.write('quit\n');
    this.rss = (await this.next()).maxRssMiB as number;
  }
}

function nodeChild(engine: string, model: string, hidden: number): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      engine,
      model,
      String(hidden),
      '--family',
      FAMILY,
      '--batch',
      String(BATCH),
    ],
    { env: { ...process.env, IP2_LOG: 'silent', IP2_TF_BACKEND: 'wasm' }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** The network's initial parameters and the batch for the PyTorch child: a JSON header and one float32 blob. */
async function torchChild(dir: string, model: string, hidden: number): Promise<ChildProcess> {
  const learner = await createBaselineLearner(spec(model, hidden), {}, undefined, { engine: 'fused' });
  const params = learner.parameters();
  const config = learner.config;
  learner.dispose();
  const parts: [string, Float32Array][] = [
    ...Object.entries(params),
    ['inputs', batch.inputs],
    ['targets', batch.targets],
    ['mask', batch.mask],
  ];
  const arrays: Record<string, [number, number]> = {};
  let off = 0;
  for (const [k, a] of parts) {
    arrays[k] = [off, a.length];
    off += a.length;
  }
  const blob = new Float32Array(off);
  for (const [k, a] of parts) blob.set(a, arrays[k]![0]);
  const base = join(dir, `${model}-${hidden}`);
  writeFileSync(`${base}.json`, JSON.stringify({ config, arrays, steps: batch.steps, batch: batch.batch }));
  writeFileSync(`${base}.bin`, new Uint8Array(blob.buffer));
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'torch_baselines.py');
  return spawn('/usr/bin/python3', [script, `${base}.json`, `${base}.bin`], {
    env: {
      ...process.env,
      // PyTorch at its best here (ENVIRONMENT.md): OpenBLAS, and glibc keeping freed memory.
      MALLOC_MMAP_THRESHOLD_: '4294967296',
      MALLOC_TRIM_THRESHOLD_: '4294967296',
      MALLOC_TOP_PAD_: '268435456',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: BASELINE_MODELS.join(',') },
      hidden: { type: 'string', default: '64,100' },
      rounds: { type: 'string', default: '15' },
      'no-torch': { type: 'boolean', default: false },
      'no-tfjs': { type: 'boolean', default: false },
      family: { type: 'string', default: 'sma' },
      batch: { type: 'string', default: '1' },
    },
  });
  const models = values.models.split(',');
  const sizes = values.hidden.split(',').map(Number);
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'ip2-bench-baselines-'));
  const load0 = loadavg()[0]!;
  console.log(
    `${FAMILY} batch: ${batch.batch} trial(s), ${batch.steps} steps (dt ${DT} ms), ${batch.nIn} in, ${batch.nOut} out; ${rounds} rounds; ${process.version}`,
  );
  console.log();
  console.log(
    '| model | hidden | parameters | engine | median ms (q1–q3) | vs fused | CPU ms | vs fused (CPU) | GFLOP/s | peak RSS MiB | first-iteration loss |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  try {
    for (const model of models) {
      for (const hidden of sizes) {
        const runners = [
          new Runner('fused', nodeChild('fused', model, hidden)),
          ...(values['no-tfjs'] ? [] : [new Runner('TF.js wasm', nodeChild('tfjs', model, hidden))]),
          ...(values['no-torch'] ? [] : [new Runner('PyTorch', await torchChild(dir, model, hidden))]),
        ];
        for (const r of runners) await r.ready();
        const live = runners.filter((r) => !r.error);
        const perRound = (r: Runner) => Math.max(1, Math.min(100, Math.round(30 / r.warmMs)));
        for (let round = 0; round < rounds; round++) for (const r of live) await r.run(perRound(r));
        for (const r of live) await r.quit();
        for (const r of runners) r.proc.kill();
        const count = baselineParameters(model as BaselineModel, batch.nIn, batch.nOut, hidden);
        const fused = quantile(runners[0]!.ms, 0.5);
        const fusedCpu = quantile(runners[0]!.cpuMs, 0.5);
        const f = flops(model, hidden);
        for (const r of runners) {
          const head = `| ${model} | ${hidden} | ${count} | ${r.label}`;
          if (r.error) {
            console.log(`${head} | skipped: ${r.error} | | | | | | |`);
            continue;
          }
          const med = quantile(r.ms, 0.5);
          const cpu = quantile(r.cpuMs, 0.5);
          const fmt = (x: number) => x.toFixed(x < 10 ? 3 : 1);
          console.log(
            `${head} | ${fmt(med)} (${fmt(quantile(r.ms, 0.25))}–${fmt(quantile(r.ms, 0.75))}) | ${(med / fused).toFixed(1)}× | ${fmt(cpu)} | ${(cpu / fusedCpu).toFixed(1)}× | ${(f / med / 1e6).toFixed(2)} | ${r.rss.toFixed(0)} | ${r.loss0.toPrecision(6)} |`,
          );
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log();
  console.log(`Load average (1 min) at start ${load0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}.`);
}

const at = process.argv.indexOf('--child');
if (at >= 0) {
  await child(process.argv[at + 1] as 'fused' | 'tfjs', process.argv[at + 2]!, Number(process.argv[at + 3]));
} else await parent();
