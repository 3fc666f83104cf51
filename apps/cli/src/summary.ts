import { rankForDisplay, runFiring, type SearchTaskRecord } from '@ip2/report';
import { fixedConfigModelVersion, type CandidateAggregate, type FixedConfig, type SearchDefinition } from '@ip2/search';

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

/**
 * The candidate table and the decision of a finished search, as `ip2 search` and `ip2 watch` print them;
 * with the task records, the firing of the chosen mask too.
 */
export function summaryLines(
  d: SearchDefinition,
  fixed: FixedConfig,
  candidates: readonly CandidateAggregate[],
  records?: readonly Pick<SearchTaskRecord, 'candidate' | 'seedIndex' | 'result'>[],
): string[] {
  const ev = fixed.evidence;
  const f = (x: number | null | undefined, digits = 1) =>
    x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
  const lines = [
    '',
    `meta-IP search on ${d.family}: space [${d.space.join(', ')}], ${d.strategy.kind}, ${d.protocol.seeds} seeds × ${d.protocol.tasks} tasks, model version ${fixedConfigModelVersion(fixed)}`,
    '',
    `${'mask'.padEnd(8)}${'keys'.padEnd(24)}${'tasks'.padStart(6)}${'score [CI]'.padStart(30)}${'failures'.padStart(10)}${'speed-up'.padStart(10)}${'slope'.padStart(8)}`,
  ];
  const ranked = rankForDisplay(candidates, ev.best.id, ev.rule.metric === 'speed-up' ? 'higher' : 'lower');
  for (const c of ranked) {
    const mark = c.id === ev.best.id ? '★ ' : '  ';
    lines.push(
      `${(mark + c.id).padEnd(8)}${(c.keys.join(',') || '∅ (rsnn-noip)').padEnd(24)}${String(c.tasks).padStart(6)}` +
        `${` ${f(c.score.mean)} [${f(c.score.lo)}, ${f(c.score.hi)}]`.padStart(30)}${f(c.failures.mean, 2).padStart(10)}${f(c.speedUp.mean, 2).padStart(10)}${f(c.l2lSlope.mean, 2).padStart(8)}`,
    );
  }
  const vs = (k: 'rsnn-noip' | 'ip-inner') => {
    const c = ev.versus[k];
    return c && c.ratio !== null ? `${c.ratio.toFixed(2)}× vs ${k}` : `${k} not measured to the end`;
  };
  lines.push(
    '',
    `chosen mask: ${fixed.mask.bits} = [${fixed.mask.keys.join(', ') || 'none'}]${ev.separable ? '' : '  (NOT separable from the runner-up at this confidence: more seeds or tasks needed)'}`,
    `evidence: ${vs('rsnn-noip')}; ${vs('ip-inner')}; ${ev.taskTrainings.measured} task trainings`,
  );
  const firing = records ? chosenFiringLine(d, fixed.mask.bits, records) : null;
  if (firing !== null) lines.push(firing);
  return lines;
}
