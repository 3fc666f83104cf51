/**
 * Training-iteration benchmark of the engines, side by side in one run:
 *   npx tsx --conditions @ip2/source bench/engines.ts      (or: npm run bench)
 *   npm run bench -- --population                          (only the population table)
 *   npm run bench -- --readout                             (only the readout table: version 2 vs 1)
 *
 * Every engine runs in its own child process (peak RSS per engine; TensorFlow.js resolves its
 * backend once per process) and serves "run <n>" requests, so the parent interleaves the engines
 * round by round (A B C D A B C D …): the machines here drift between speed states. Each engine
 * trains the same network (same initial parameters) on the same batch. Reported: median and
 * quartiles of ≥ 20 iterations after warm-up, peak RSS, dense-equivalent GFLOP/s, ratios.
 * The population table compares P networks trained as separate FusedEngines one after the other,
 * as one FusedPopulation on one thread, and as a ThreadedPopulation over one shard per core.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  calibrateFiringRate,
  initNetwork,
  rateHz,
  learningRate,
  trainableKeys,
  PROPERTY_KEYS,
  Rng,
  TfjsEngine,
  WEIGHT_KEYS,
  type Engine,
  type NetworkConfigInput,
  type NetworkState,
  type TfBackendName,
  type TrialBatch,
} from '@ip2/snn';
import { FusedEngine, FusedPopulation, ThreadedPopulation } from '../packages/snn/src/fused/index.js';
import { quantile } from './stats.js';

interface Shape {
  readonly name: string;
  readonly batch: number;
  readonly nIn: number;
  readonly nRec: number;
  readonly nOut: number;
  readonly steps: number;
  /** Input scale chosen for a firing rate of a few %. */
  readonly inputScale: number;
}

const SHAPES: readonly Shape[] = [
  { name: 'b1', batch: 1, nIn: 11, nRec: 100, nOut: 3, steps: 100, inputScale: 1 },
  { name: 'b32', batch: 32, nIn: 64, nRec: 256, nOut: 3, steps: 100, inputScale: 1 },
  // A balanced batch of a two-condition family (sma, dms) at the protocol's size.
  { name: 'b2', batch: 2, nIn: 11, nRec: 100, nOut: 3, steps: 100, inputScale: 1 },
];
const POPULATION = 16;
/** Shards of the threaded population: one per core. */
const THREADS = Math.min(availableParallelism(), POPULATION);
const MIN_SAMPLES = 20;
const HOMEOSTATIC_TARGET = 0.1;

/**
 * The benchmarked network: the ip2 neuron with adaptation, every property learnable, weights trained.
 * The engines' and population tables use model version 1 (membrane readout, L2 in the loss, τ clamped
 * in the pass), the model the PyTorch peer (torch_engine.py) implements, so that first-iteration losses
 * are comparable across engines; the readout table compares version 2 with it.
 */
function network(s: Shape, seed = 1, model: NetworkConfigInput = { modelVersion: 1 }): NetworkState {
  return initNetwork({
    nIn: s.nIn,
    nRec: s.nRec,
    nOut: s.nOut,
    space: [...PROPERTY_KEYS],
    learnable: [...PROPERTY_KEYS],
    seed,
    ...model,
  });
}

/** Spikes per neuron per step of the version-1 network on the benchmark batch. */
const V1_FIRING = 0.021;

/** The fused engine's model variants of the readout table. */
const READOUT_VARIANTS: Readonly<Record<string, { label: string; model: NetworkConfigInput }>> = {
  'fused-v2': { label: 'version 2 (spike readout)', model: { modelVersion: 2 } },
  'fused-v2-membrane': { label: 'version 2, membrane readout', model: { modelVersion: 2, readout: 'membrane' } },
  'fused-v1': { label: 'version 1 (membrane readout)', model: { modelVersion: 1 } },
};

/** Gaussian inputs, one-hot targets, the second half of the trial scored. */
function batchOf(s: Shape, seed = 1): TrialBatch {
  const rng = Rng.seeded(seed, 'bench-batch');
  const { steps: T, batch: B, nIn, nOut } = s;
  const inputs = new Float32Array(T * B * nIn);
  for (let i = 0; i < inputs.length; i++) inputs[i] = s.inputScale * rng.normal();
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      targets[(t * B + b) * nOut + (b % nOut)] = 1;
      mask[t * B + b] = t >= T / 2 ? 1 : 0;
    }
  }
  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask };
}

/** Dense-equivalent FLOPs of one training iteration (the same count for every engine). */
function flops(s: Shape): number {
  const { steps: T, batch: B, nIn, nRec: N, nOut } = s;
  return 2 * T * B * (2 * nIn * N + 3 * N * N + 3 * N * nOut);
}

// ---------------------------------------------------------------- child side

async function child(kind: string, shapeName: string): Promise<void> {
  const s = SHAPES.find((x) => x.name === shapeName)!;
  const batch = batchOf(s);
  let step: () => { loss: number; rate: number } | Promise<{ loss: number; rate: number }>;
  let info: Record<string, unknown> = {};
  if (kind === 'fused' || kind === 'tfjs' || kind in READOUT_VARIANTS) {
    const variant = READOUT_VARIANTS[kind]?.model;
    // Version-2 networks are calibrated to version 1's firing on this batch (≈ 2% of steps), so that
    // the sparse spike paths do the same work in every column.
    const state =
      variant?.modelVersion === 2
        ? calibrateFiringRate(network(s, 1, variant), batch, rateHz(V1_FIRING, 20)).state
        : network(s, 1, variant);
    // The parent picks each TF.js child's backend through IP2_TF_BACKEND (see nodeChild).
    const backend = process.env.IP2_TF_BACKEND as TfBackendName | undefined;
    const engine: Engine =
      kind === 'tfjs'
        ? await TfjsEngine.create(state, backend ? { backend, forcedBy: 'IP2_TF_BACKEND' } : {})
        : FusedEngine.create(state);
    engine.setHomeostaticTarget(HOMEOSTATIC_TARGET);
    info = { backend: engine.info.backend };
    step = () => {
      const r = engine.trainStep(batch);
      return { loss: r.loss, rate: r.firingRate };
    };
  } else if (kind === 'population' || kind === 'separate' || kind.startsWith('threaded')) {
    const states = Array.from({ length: POPULATION }, (_, p) => network(s, p + 1));
    if (kind.startsWith('threaded')) {
      // threaded: the calling thread runs one shard; threaded-workers: worker threads run all.
      const pop = await ThreadedPopulation.create(states, { threads: THREADS, callingThread: kind === 'threaded' });
      for (let p = 0; p < POPULATION; p++) await pop.setHomeostaticTarget(p, HOMEOSTATIC_TARGET);
      info = { threads: pop.threads };
      step = async () => {
        const r = await pop.trainStep(batch);
        return { loss: r[0]!.loss, rate: r[0]!.firingRate };
      };
    } else if (kind === 'population') {
      const pop = FusedPopulation.create(states);
      for (let p = 0; p < POPULATION; p++) await pop.setHomeostaticTarget(p, HOMEOSTATIC_TARGET);
      step = async () => {
        const r = await pop.trainStep(batch);
        return { loss: r[0]!.loss, rate: r[0]!.firingRate };
      };
    } else {
      const engines = states.map((x) => FusedEngine.create(x));
      for (const e of engines) e.setHomeostaticTarget(HOMEOSTATIC_TARGET);
      step = () => {
        let r = { loss: 0, firingRate: 0 };
        for (const e of engines) r = e.trainStep(batch);
        return { loss: r.loss, rate: r.firingRate };
      };
    }
  } else throw new Error(`unknown child kind ${kind}`);
  // The first iteration's loss and firing rate: the same network on the same batch in every engine.
  const first = await step();
  for (let i = 0; i < 2; i++) await step();
  const out = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  out({ ready: true, loss0: first.loss, rate0: first.rate, ...info });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, n] = line.trim().split(/\s+/);
    if (cmd === 'run') {
      const ms: number[] = [];
      let last = { loss: 0, rate: 0 };
      for (let i = 0; i < Number(n); i++) {
        const t0 = performance.now();
        const r = step();
        last = r instanceof Promise ? await r : r;
        ms.push(performance.now() - t0);
      }
      out({ ms, ...last });
    } else if (cmd === 'quit') {
      out({ maxRssMiB: process.resourceUsage().maxRSS / 1024 });
      process.exit(0);
    }
  }
}

// ---------------------------------------------------------------- parent side

interface Column {
  readonly label: string;
  readonly shape: Shape;
  /** Iterations per round (fast engines run several per round). */
  readonly perRound: number;
  readonly start: () => ChildProcess;
}

class Runner {
  readonly ms: number[] = [];
  loss = Number.NaN;
  rate = Number.NaN;
  rss = Number.NaN;
  error: string | null = null;
  info: Record<string, unknown> = {};
  private readonly lines: AsyncIterator<string>;

  constructor(
    readonly column: Column,
    readonly proc: ChildProcess,
  ) {
    this.lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    proc.on('error', (e) => {
      this.error = `could not start: ${e.message}`;
    });
    proc.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      if (!/backend:|^ip2:|tfjs-node|={10}|^\s*$/.test(text)) process.stderr.write(`[${column.label}] ${text}`);
    });
  }

  private async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${this.column.label}: child exited`);
    return JSON.parse(r.value) as Record<string, unknown>;
  }

  async ready(): Promise<void> {
    let r: Record<string, unknown>;
    try {
      r = await this.next();
    } catch (e) {
      this.error ??= e instanceof Error ? e.message : String(e);
      return;
    }
    if (typeof r.error === 'string') this.error = r.error;
    else {
      this.info = r;
      this.loss = r.loss0 as number;
      this.rate = r.rate0 as number;
    }
  }

  async run(n: number): Promise<void> {
    this.proc.stdin!.write(`run ${n}\n`);
    const r = (await this.next()) as { ms: number[]; loss: number; rate: number };
    this.ms.push(...r.ms);
  }

  async quit(): Promise<void> {
    this.proc.stdin!.write('quit\n');
    const r = (await this.next()) as { maxRssMiB: number };
    this.rss = r.maxRssMiB;
  }
}

function nodeChild(kind: string, shape: Shape, env: Record<string, string> = {}): () => ChildProcess {
  const script = fileURLToPath(import.meta.url);
  return () =>
    spawn(process.execPath, [...process.execArgv, script, '--child', kind, shape.name], {
      env: { ...process.env, IP2_LOG: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
}

/** Writes the network and batch for the PyTorch child: a JSON header and one float32 blob. */
function torchChild(shape: Shape, dir: string): () => ChildProcess {
  const state = network(shape);
  const batch = batchOf(shape);
  const parts: [string, Float32Array][] = [
    ...[...WEIGHT_KEYS, ...PROPERTY_KEYS].map((k) => [k, state.params[k]] as [string, Float32Array]),
    ['inputs', batch.inputs],
    ['targets', batch.targets],
    ['mask', batch.mask],
  ];
  let off = 0;
  const arrays: Record<string, [number, number]> = {};
  for (const [k, a] of parts) {
    arrays[k] = [off, a.length];
    off += a.length;
  }
  const blob = new Float32Array(off);
  for (const [k, a] of parts) blob.set(a, arrays[k]![0]);
  const header = {
    config: state.config,
    arrays,
    steps: shape.steps,
    batch: shape.batch,
    trainable: trainableKeys(state.config),
    lr: Object.fromEntries([...WEIGHT_KEYS, ...PROPERTY_KEYS].map((k) => [k, learningRate(state.config, k)])),
    homeostaticTarget: HOMEOSTATIC_TARGET,
    warmup: 3,
  };
  const json = join(dir, `${shape.name}.json`);
  const bin = join(dir, `${shape.name}.bin`);
  writeFileSync(json, JSON.stringify(header));
  writeFileSync(bin, new Uint8Array(blob.buffer));
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'torch_engine.py');
  return () =>
    spawn('/usr/bin/python3', [script, json, bin], {
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

async function measure(columns: readonly Column[]): Promise<Runner[]> {
  const runners: Runner[] = [];
  for (const c of columns) {
    const r = new Runner(c, c.start());
    await r.ready();
    if (r.error) process.stderr.write(`${c.label}: skipped (${r.error})\n`);
    runners.push(r);
  }
  const live = runners.filter((r) => !r.error);
  for (let round = 0; round < MIN_SAMPLES; round++) {
    for (const r of live) await r.run(r.column.perRound);
  }
  for (const r of live) await r.quit();
  for (const r of runners) r.proc.kill();
  return runners;
}

function machine(): string {
  try {
    const cpu = execFileSync('lscpu', { encoding: 'utf8' });
    const model = /Model name:\s*(.+)/.exec(cpu)?.[1]?.trim() ?? 'unknown';
    const cores = /^CPU\(s\):\s*(\d+)/m.exec(cpu)?.[1] ?? '?';
    return `${model}, ${cores} CPUs, Node ${process.version}`;
  } catch {
    return `unknown CPU, Node ${process.version}`;
  }
}

async function parent(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ip2-bench-'));
  const flag = readoutOnly ? '--readout' : onlyPopulation ? '--population' : '';
  const load0 = loadavg()[0]!;
  const lines: string[] = [];
  const say = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  say(
    `Machine: ${machine()}. Command: \`npm run bench${flag ? ` -- ${flag}` : ''}\` (\`tsx --conditions @ip2/source bench/engines.ts${flag ? ` ${flag}` : ''}\`).`,
  );
  if (readoutOnly || !onlyPopulation) {
    // The readout table: model version 2 (spike readout) against its membrane readout and version 1.
    say();
    say(
      '| shape | fused engine model | median ms (q1–q3) | vs version 1 | first-iteration firing rate | first-iteration loss |',
    );
    say('|---|---|---|---|---|---|');
    for (const shape of SHAPES.filter((x) => x.name !== 'b32')) {
      const kinds = Object.keys(READOUT_VARIANTS);
      const runners = await measure(
        kinds.map((k) => ({ label: READOUT_VARIANTS[k]!.label, shape, perRound: 20, start: nodeChild(k, shape) })),
      );
      const v1 = quantile(runners[2]!.ms, 0.5);
      for (const r of runners) {
        const name = `B=${shape.batch}, ${shape.nIn} in, ${shape.nRec} rec, ${shape.steps} steps`;
        if (r.error) {
          say(`| ${name} | ${r.column.label} | skipped: ${r.error} | | | |`);
          continue;
        }
        const med = quantile(r.ms, 0.5);
        say(
          `| ${name} | ${r.column.label} | ${med.toFixed(3)} (${quantile(r.ms, 0.25).toFixed(3)}–${quantile(r.ms, 0.75).toFixed(3)}) | ${(med / v1).toFixed(3)}× | ${(100 * r.rate).toFixed(1)}% | ${r.loss.toPrecision(4)} |`,
        );
      }
    }
  }
  if (readoutOnly) {
    say();
    say(`Load average (1 min) at start ${load0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}.`);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  if (!onlyPopulation) {
    say();
    say(
      '| shape | engine | median ms (q1–q3) | vs fused | GFLOP/s | peak RSS MiB | first-iteration firing rate | first-iteration loss |',
    );
    say('|---|---|---|---|---|---|---|---|');
  }
  try {
    for (const shape of onlyPopulation ? [] : SHAPES.filter((x) => x.name !== 'b2')) {
      const heavy = shape.batch > 1;
      const columns: Column[] = [
        { label: 'fused', shape, perRound: heavy ? 2 : 20, start: nodeChild('fused', shape) },
        { label: 'PyTorch', shape, perRound: heavy ? 2 : 5, start: torchChild(shape, dir) },
        {
          label: 'TF.js wasm',
          shape,
          perRound: 1,
          start: nodeChild('tfjs', shape, { IP2_TF_BACKEND: 'wasm' }),
        },
        { label: 'TF.js cpu', shape, perRound: 1, start: nodeChild('tfjs', shape, { IP2_TF_BACKEND: 'cpu' }) },
      ];
      const runners = await measure(columns);
      const fused = quantile(runners[0]!.ms, 0.5);
      const f = flops(shape);
      for (const r of runners) {
        const name = `B=${shape.batch}, ${shape.nIn} in, ${shape.nRec} rec, ${shape.steps} steps`;
        if (r.error) {
          say(`| ${name} | ${r.column.label} | skipped: ${r.error} | | | | | |`);
          continue;
        }
        const med = quantile(r.ms, 0.5);
        say(
          `| ${name} | ${r.column.label} | ${med.toFixed(med < 10 ? 3 : 1)} (${quantile(r.ms, 0.25).toFixed(
            med < 10 ? 3 : 1,
          )}–${quantile(r.ms, 0.75).toFixed(med < 10 ? 3 : 1)}) | ${(med / fused).toFixed(1)}× | ${(
            f /
            med /
            1e6
          ).toFixed(2)} | ${r.rss.toFixed(0)} | ${(100 * r.rate).toFixed(1)}% | ${r.loss.toPrecision(4)} |`,
        );
      }
    }
    const shape = SHAPES[0]!;
    // 30 iterations per round (a few ms each): long enough that a child's threads, idle while the others
    // run, are back at speed for most of its samples.
    const runners = await measure([
      { label: `population P=${POPULATION}`, shape, perRound: 30, start: nodeChild('population', shape) },
      { label: `${POPULATION} separate engines`, shape, perRound: 30, start: nodeChild('separate', shape) },
      { label: `threaded population`, shape, perRound: 30, start: nodeChild('threaded', shape) },
      { label: `threaded population (workers)`, shape, perRound: 30, start: nodeChild('threaded-workers', shape) },
    ]);
    const [pop, sep, thr, thw] = runners.map((r) => (r.error ? Number.NaN : quantile(r.ms, 0.5))) as [
      number,
      number,
      number,
      number,
    ];
    const threads = (r: Runner) => (r.info.threads as number | undefined) ?? THREADS;
    const row = (label: string, r: Runner, med: number) =>
      r.error
        ? say(`| ${label} | skipped: ${r.error} | | |`)
        : say(
            `| ${label} | ${med.toFixed(2)} (${quantile(r.ms, 0.25).toFixed(2)}–${quantile(r.ms, 0.75).toFixed(2)}) | ${((1000 * POPULATION) / med).toFixed(0)} | ${(sep / med).toFixed(2)}× | ${r.rss.toFixed(0)} |`,
          );
    say();
    say(
      `| population (B=1 shape) | median ms per iteration of all ${POPULATION} (q1–q3) | network-iterations/s | vs separate | peak RSS MiB |`,
    );
    say('|---|---|---|---|---|');
    row(`${POPULATION} separate FusedEngines`, runners[1]!, sep);
    row(`FusedPopulation P=${POPULATION} (one thread)`, runners[0]!, pop);
    row(
      `ThreadedPopulation P=${POPULATION}, ${threads(runners[2]!)} threads (calling thread + ${threads(runners[2]!) - 1} workers)`,
      runners[2]!,
      thr,
    );
    row(`ThreadedPopulation P=${POPULATION}, ${threads(runners[3]!)} worker threads`, runners[3]!, thw);
    say();
    say(
      `Population throughput vs ${POPULATION} separate engines on one thread: FusedPopulation (one thread) ${(sep / pop).toFixed(2)}×; ThreadedPopulation with ${threads(runners[2]!)} threads ${(sep / thr).toFixed(2)}× (calling thread + workers), ${(sep / thw).toFixed(2)}× (all in workers).`,
    );
    say();
    say(`Load average (1 min) at start ${load0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--population`: only the population table (the engines' table takes several minutes). */
const onlyPopulation = process.argv.includes('--population');
/** `--readout`: only the readout table (model version 2's spike readout against version 1). */
const readoutOnly = process.argv.includes('--readout');
const at = process.argv.indexOf('--child');
if (at >= 0) await child(process.argv[at + 1]!, process.argv[at + 2]!);
else await parent();
