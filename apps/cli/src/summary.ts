import { importanceLines, runFiring, type SearchTaskRecord } from '@ip2/report';
import {
  fixedConfigModelVersion,
  type FixedConfig,
  type ImportanceUnavailable,
  type PropertyImportance,
  type SearchDefinition,
  type Standing,
  type Stop,
} from '@ip2/search';

/**
 * The firing of the chosen mask's runs at the end of their last task: mean rate (Hz) and active neurons
 * over the seeds, and how many runs were near-silent at the end of some task. Null without statistics.
 */
export function chosenFiringLine(
  d: SearchDefinition,
  bits: string,
  records: readonly Pick<SearchTaskRecord, 'candidate' | 'seedIndex' | 'result'>[],
): string | null {
  const runs = runFiring(records.filter((r) => r.candidate === bits)).filter((r) =>
    Number.isFinite(r.last.activeNeurons),
  );
  if (runs.length === 0) return null;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const hz = mean(runs.map((r) => r.last.firingRate)) * (1000 / d.protocol.network.dt);
  const active = mean(runs.map((r) => r.last.activeNeurons));
  const silent = runs.filter((r) => r.nearSilent).length;
  return (
    `firing of the chosen mask at the end of its runs: ${hz.toFixed(1)} Hz, ${active.toFixed(1)} of ${runs[0]!.last.neurons} neurons active (mean of ${runs.length} runs)` +
    (silent > 0 ? `; ${silent} run(s) NEAR-SILENT (fewer than 10% of neurons active at the end of a task)` : '')
  );
}

/** The candidate tables, the decision, its validation and the property importance, as `ip2 search` and `ip2 watch` print them. */
export interface SummaryStandings {
  readonly all: Standing;
  readonly finalists: Standing | null;
}

const f = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);

function stopText(stop: Stop, chosen: boolean): string {
  const where = `rung ${stop.rung + 1} (${stop.tasks} tasks)`;
  if (stop.state === 'pruned') return `pruned after ${where}`;
  if (stop.state === 'finished') return chosen ? `chosen at ${where}` : `finished ${where}`;
  return `in ${where}`;
}

/** One candidate table: every score over the same prefix of tasks, the chosen mask first. */
function tableLines(standing: Standing, best: string): string[] {
  const lines = [
    `${'mask'.padEnd(8)}${'keys'.padEnd(24)}${'score [CI]'.padStart(30)}${'failures'.padStart(10)}${'speed-up'.padStart(10)}${'slope'.padStart(8)}  stopped`,
  ];
  const rows = [...standing.candidates].sort((a, b) => Number(b.id === best) - Number(a.id === best));
  for (const c of rows) {
    const mark = c.id === best ? '★ ' : '  ';
    lines.push(
      `${(mark + c.id).padEnd(8)}${(c.keys.join(',') || '∅ (rsnn-noip)').padEnd(24)}` +
        `${` ${f(c.score.mean)} [${f(c.score.lo)}, ${f(c.score.hi)}]`.padStart(30)}${f(c.failures.mean, 2).padStart(10)}${f(c.speedUp.mean, 2).padStart(10)}${f(c.l2lSlope.mean, 2).padStart(8)}  ${stopText(c.stop, c.id === best)}`,
    );
  }
  return lines;
}

/** The validation's verdict and intervals (absent: a configuration fixed before validation existed). */
export function validationLines(fixed: FixedConfig): string[] {
  const v = fixed.validation;
  if (v === undefined) return ['validation: none (a configuration fixed before the validation stage): unvalidated'];
  if (v.verdict === 'unvalidated') return [`validation: UNVALIDATED — ${v.statement}`];
  const lines = [
    `validation on ${v.seeds} fresh seed${v.seeds === 1 ? '' : 's'} × ${v.tasks} tasks (cap ${v.iterationCap}): ${v.verdict.toUpperCase()}`,
  ];
  for (const c of v.versus) {
    lines.push(
      `  ${v.searchChoice.bits} vs ${c.candidate} (${c.as.join(', ')})`.padEnd(36) +
        `advantage ${f(c.advantage.mean)} [${f(c.advantage.lo)}, ${f(c.advantage.hi)}]   score ${f(c.chosen.mean)} vs ${f(c.other.mean)}`,
    );
  }
  lines.push(`  ${v.statement}`);
  return lines;
}

/**
 * The candidate tables (every candidate on the same tasks, then the finalists on the full protocol), the
 * decision, its validation and the property importance of a finished search, as `ip2 search` and `ip2 watch`
 * print them; with the task records, the firing of the chosen mask too.
 */
export function summaryLines(
  d: SearchDefinition,
  fixed: FixedConfig,
  standings: SummaryStandings,
  importance: PropertyImportance | ImportanceUnavailable,
  records?: readonly Pick<SearchTaskRecord, 'candidate' | 'seedIndex' | 'result'>[],
): string[] {
  const ev = fixed.evidence;
  const better = ev.rule.direction === 'lower' ? 'lower is better' : 'higher is better';
  const lines = [
    '',
    `meta-IP search on ${d.family}: space [${d.space.join(', ')}], ${d.strategy.kind}, ${d.protocol.seeds} seeds × ${d.protocol.tasks} tasks (cap ${d.protocol.iterationCap}), score ${ev.rule.metric} (${better}), model version ${fixedConfigModelVersion(fixed)}`,
    '',
    `every candidate on the same ${standings.all.tasks} tasks (the first ${standings.all.tasks} of each seed, which all of them reached):`,
    ...tableLines(standings.all, ev.best.id),
  ];
  if (standings.finalists !== null) {
    lines.push(
      '',
      `finalists on the full protocol (${standings.finalists.tasks} tasks × ${d.protocol.seeds} seeds):`,
      ...tableLines(standings.finalists, ev.best.id),
    );
  }
  const vs = (k: 'rsnn-noip' | 'ip-inner') => {
    const c = ev.versus[k];
    if (c?.candidate === ev.best.id) return `${k} is the search's choice`;
    return c && c.ratio !== null
      ? `${c.ratio.toFixed(2)}× vs ${k} (on ${c.tasks} tasks)`
      : `${k} not measured to the end`;
  };
  const v = fixed.validation;
  lines.push(
    '',
    `search's choice: ${ev.best.id} = [${ev.best.keys.join(', ') || 'none'}]${ev.separable ? '' : "  (NOT separable from the runner-up on the search's seeds: more seeds or tasks needed)"}`,
    `evidence: ${vs('rsnn-noip')}; ${vs('ip-inner')}; ${ev.taskTrainings.measured} task trainings${v !== undefined && v.seeds > 0 ? ` + ${v.candidates.length * v.seeds * v.tasks} for the validation` : ''}`,
    '',
    ...validationLines(fixed),
    '',
    `fixed mask: ${fixed.mask.bits} = [${fixed.mask.keys.join(', ') || 'none'}]${fixed.mask.bits !== ev.best.id ? ` (the runner-up: the validation overturned the search's choice ${ev.best.id})` : ''}`,
    '',
    ...importanceLines(importance),
    '',
  );
  const firing = records
    ? chosenFiringLine(
        d,
        fixed.mask.bits,
        records.filter((r) => r.seedIndex < d.protocol.seeds),
      )
    : null;
  if (firing !== null) lines.push(firing);
  return lines;
}
