import type { TaskResult } from '@ip2/l2l';
import { escapeHtml, num } from './format.js';

/*
 * Firing statistics of a search's runs (SCIENCE.md §2: every task result records the firing rate, the
 * active neurons and the fraction silent at the end of the task), and the flag on near-silent runs.
 */

/** A task ends near-silent when fewer than this fraction of the hidden neurons spiked on its held-out batch. */
export const NEAR_SILENT_FRACTION = 0.1;

type Firing = Pick<TaskResult, 'firingRate' | 'activeNeurons' | 'neurons'>;

/**
 * Whether a task ended near-silent: fewer than 10% of its neurons active. False when the statistics are
 * not known (non-spiking models, records made before they were kept).
 */
export function isNearSilent(r: Pick<TaskResult, 'activeNeurons' | 'neurons'>): boolean {
  return (
    Number.isFinite(r.activeNeurons) &&
    Number.isFinite(r.neurons) &&
    r.neurons > 0 &&
    r.activeNeurons < NEAR_SILENT_FRACTION * r.neurons
  );
}

/** The firing of one run (candidate, seed) over its recorded tasks. */
export interface RunFiring {
  readonly candidate: string;
  readonly seedIndex: number;
  /** Tasks recorded. */
  readonly tasks: number;
  /** At the end of the last recorded task (NaN when not known). */
  readonly last: { readonly firingRate: number; readonly activeNeurons: number; readonly neurons: number };
  /** Fewest neurons active at the end of any task (NaN when not known). */
  readonly minActive: number;
  /** Indices of the tasks that ended near-silent (isNearSilent), in order. */
  readonly nearSilentTasks: readonly number[];
  /** Whether any task of the run ended near-silent. */
  readonly nearSilent: boolean;
}

interface Rec {
  readonly candidate: string;
  readonly seedIndex: number;
  readonly result: Firing & Pick<TaskResult, 'taskIndex'>;
}

/** Every run's firing, by candidate then seed. */
export function runFiring(records: readonly Rec[]): RunFiring[] {
  const runs = new Map<string, Rec[]>();
  for (const r of records) {
    const key = `${r.candidate}\u0000${r.seedIndex}`;
    const list = runs.get(key);
    if (list) list.push(r);
    else runs.set(key, [r]);
  }
  const out: RunFiring[] = [];
  for (const list of runs.values()) {
    const tasks = [...list].sort((a, b) => a.result.taskIndex - b.result.taskIndex);
    const lastResult = tasks[tasks.length - 1]!.result;
    const actives = tasks.map((t) => t.result.activeNeurons).filter(Number.isFinite);
    const nearSilentTasks = tasks.filter((t) => isNearSilent(t.result)).map((t) => t.result.taskIndex);
    out.push({
      candidate: tasks[0]!.candidate,
      seedIndex: tasks[0]!.seedIndex,
      tasks: tasks.length,
      last: {
        firingRate: lastResult.firingRate,
        activeNeurons: lastResult.activeNeurons,
        neurons: lastResult.neurons,
      },
      minActive: actives.length > 0 ? Math.min(...actives) : Number.NaN,
      nearSilentTasks,
      nearSilent: nearSilentTasks.length > 0,
    });
  }
  return out.sort((a, b) =>
    a.candidate < b.candidate ? -1 : a.candidate > b.candidate ? 1 : a.seedIndex - b.seedIndex,
  );
}

/** Task indices as a short list: 1-based, runs of consecutive tasks joined (1–3, 7). */
function taskList(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? `${indices[i]! + 1}` : `${indices[i]! + 1}–${indices[j]! + 1}`);
    i = j + 1;
  }
  return parts.join(', ');
}

const finiteOnly = (xs: readonly number[]) => xs.filter(Number.isFinite);
const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

export interface FiringSectionOptions {
  /** ms per step: rates are shown in Hz with it, in spikes per neuron per step without. */
  readonly dtMs?: number;
  /** Candidates in display order (default: by id); others follow by id. */
  readonly order?: readonly string[];
  /** Learnable keys of each candidate, to name it beside its id. */
  readonly keys?: ReadonlyMap<string, readonly string[]>;
}

/**
 * The report's firing section: per candidate, the firing rate and active neurons at the end of each run's
 * last task, and a warning naming every near-silent run (fewer than 10% of the neurons active at the end
 * of a task) with its tasks.
 */
export function firingSectionHtml(records: readonly Rec[], options: FiringSectionOptions = {}): string {
  const runs = runFiring(records);
  const heading = '<h2>Firing</h2>';
  if (runs.length === 0 || runs.every((r) => !Number.isFinite(r.last.activeNeurons))) {
    return `${heading}\n<p class="muted">No firing statistics recorded for these runs (non-spiking models, or results recorded before they were kept).</p>`;
  }
  const hz = options.dtMs !== undefined && options.dtMs > 0 ? 1000 / options.dtMs : null;
  const unit = hz === null ? 'spikes/neuron/step' : 'Hz';
  const rate = (x: number) => (hz === null ? num(x, 4) : num(x * hz, 1));
  const byCandidate = new Map<string, RunFiring[]>();
  for (const r of runs) byCandidate.set(r.candidate, [...(byCandidate.get(r.candidate) ?? []), r]);
  const order = [
    ...(options.order ?? []).filter((c) => byCandidate.has(c)),
    ...[...byCandidate.keys()].filter((c) => !(options.order ?? []).includes(c)),
  ];
  const rows = order
    .map((c) => {
      const list = byCandidate.get(c)!;
      const rates = finiteOnly(list.map((r) => r.last.firingRate));
      const active = finiteOnly(list.map((r) => r.last.activeNeurons));
      const neurons = finiteOnly(list.map((r) => r.last.neurons));
      const silent = list.filter((r) => r.nearSilent);
      const keys = options.keys?.get(c);
      const range = (xs: readonly number[], f: (x: number) => string) =>
        xs.length === 0 ? '—' : `${f(mean(xs))} <span class="ci">[${f(Math.min(...xs))}, ${f(Math.max(...xs))}]</span>`;
      return (
        `<tr${silent.length > 0 ? ' class="silent" style="background:#fff4e5"' : ''}><td><code>${escapeHtml(c)}</code>${keys ? ` ${escapeHtml(keys.join(', ') || '∅')}` : ''}</td>` +
        `<td>${list.length}</td><td>${range(rates, rate)}</td>` +
        `<td>${range(active, (x) => num(x, 1))}${neurons.length > 0 ? ` / ${Math.max(...neurons)}` : ''}</td>` +
        `<td>${silent.length === 0 ? '0' : `<b>${silent.length}</b>`}</td></tr>`
      );
    })
    .join('\n');
  const silent = runs.filter((r) => r.nearSilent);
  const warning =
    silent.length === 0
      ? `<p>No run is near-silent: at the end of every task at least ${Math.round(NEAR_SILENT_FRACTION * 100)}% of the neurons spiked.</p>`
      : `<p class="warn"><b>${silent.length} of ${runs.length} runs near-silent</b>: fewer than ${Math.round(NEAR_SILENT_FRACTION * 100)}% of the neurons spiked on the held-out batch at the end of a task. A near-silent network answers with few neurons; its iterations say little about intrinsic plasticity.</p>
<ul class="silent">${silent
          .map(
            (r) =>
              `<li><code>${escapeHtml(r.candidate)}</code> seed ${r.seedIndex}: task${r.nearSilentTasks.length > 1 ? 's' : ''} ${taskList(r.nearSilentTasks)} (fewest active ${num(r.minActive, 0)} of ${num(r.last.neurons, 0)})</li>`,
          )
          .join('\n')}</ul>`;
  return `${heading}
<p class="muted">At the end of each run's last task, on its held-out batch: mean [min, max] across seeds of the firing rate (${unit}) and of the neurons that spiked at least once.</p>
${warning}
<div class="scroll"><table class="firing"><thead><tr><th>mask</th><th>runs</th><th>firing rate (${unit})</th><th>active neurons</th><th>near-silent runs</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
