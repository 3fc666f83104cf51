import type { ConfigurationAnalysis, IntrinsicPoint } from './configuration-analysis.js';
import { groupedBarsSpec, logScatterSpec, quantileBandsSpec, renderSvg, type GroupedValue } from './plots.js';
import { escapeHtml, sig } from './format.js';

/** Display names of the intrinsic properties (SCIENCE.md §3). */
const PROPERTY_LABELS: Readonly<Record<string, string>> = {
  tauD: 'τ_d dendritic (ms)',
  tauS: 'τ_s somatic (ms)',
  theta: 'θ threshold',
  beta: 'β adaptation',
  tauA: 'τ_a adaptation (ms)',
};
const propertyLabel = (p: string) => PROPERTY_LABELS[p] ?? p;

const quantileOf = (pt: IntrinsicPoint, p: number) => pt.summary.quantiles.find((q) => q.p === p)?.value ?? Number.NaN;
const groupLabel = (g: number, groups: number) =>
  groups === 4
    ? `Q${g + 1}${g === 0 ? ' (lowest)' : g === groups - 1 ? ' (highest)' : ''}`
    : `group ${g + 1}/${groups}`;

function verification(a: ConfigurationAnalysis): string {
  const tasks = a.runs.flatMap((r) => r.tasks);
  const compared = tasks.filter((t) => t.reproduced !== null);
  const differing = compared.filter((t) => t.reproduced === false).length;
  if (compared.length === 0) return `<p class="muted">No stored results to check the replay against.</p>`;
  return differing === 0
    ? `<p class="ok">Verification: the replay reproduced the search's stored results exactly on all ${compared.length} tasks compared.</p>`
    : `<p class="warn">Verification: ${differing} of ${compared.length} replayed tasks differ from the search's stored results (another engine or backend computes slightly different numbers); the analyses describe the replay.</p>`;
}

async function intrinsicSection(a: ConfigurationAnalysis): Promise<string> {
  if (a.intrinsic.length === 0) return '';
  const svg = await renderSvg(
    quantileBandsSpec(
      a.intrinsic.map((d) => ({
        title: `${propertyLabel(d.property)}${d.learned ? ' · learned' : ' · fixed'}`,
        // Time constants spread over orders of magnitude once learned.
        log: d.property.startsWith('tau') && d.points.every((pt) => pt.summary.min > 0),
        points: d.points.map((pt) => ({
          x: pt.taskIndex + 1,
          p10: quantileOf(pt, 0.1),
          p25: quantileOf(pt, 0.25),
          p50: quantileOf(pt, 0.5),
          p75: quantileOf(pt, 0.75),
          p90: quantileOf(pt, 0.9),
        })),
      })),
      { xTitle: 'after task (0 = initial)' },
    ),
  );
  const cell = (pt: IntrinsicPoint | undefined) =>
    pt
      ? `<td>${sig(quantileOf(pt, 0.5))}</td><td>${sig(quantileOf(pt, 0.25))} – ${sig(quantileOf(pt, 0.75))}</td><td>${sig(quantileOf(pt, 0.1))} – ${sig(quantileOf(pt, 0.9))}</td><td>${sig(pt.summary.mean)} ± ${sig(pt.summary.sd)}</td>`
      : '<td colspan="4">—</td>';
  const rows = a.intrinsic
    .flatMap((d) => {
      const first = d.points[0];
      const last = d.points[d.points.length - 1];
      return [
        `<tr><td>${escapeHtml(propertyLabel(d.property))}</td><td>${d.learned ? 'learned' : 'fixed'}</td><td>initial</td>${cell(first)}</tr>`,
        `<tr><td></td><td></td><td>after task ${last ? last.taskIndex + 1 : '—'}</td>${cell(last)}</tr>`,
      ];
    })
    .join('\n');
  const n = a.intrinsic[0]?.points[0]?.summary.n ?? 0;
  return `<h3>Intrinsic values across tasks</h3>
<p class="muted">Distribution across neurons (${n} = ${a.runs.length} run${a.runs.length === 1 ? '' : 's'} × ${a.hidden} neurons, pooled) after each task: median, 25–75 % and 10–90 % bands.</p>
<figure>${svg}</figure>
<table class="compact intrinsic"><thead><tr><th>property</th><th>mask</th><th>when</th><th>median</th><th>25–75 %</th><th>10–90 %</th><th>mean ± sd</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

async function lesionSection(a: ConfigurationAnalysis): Promise<string> {
  const skipped = a.runs.filter((r) => r.lesionSkipped !== undefined);
  const note = skipped.length
    ? `<p class="warn">No lesion study for ${skipped.map((r) => `seed ${r.seedIndex} (${escapeHtml(r.lesionSkipped!)})`).join(', ')}.</p>`
    : '';
  const studied = a.runs.filter((r) => r.lesions.length > 0);
  if (studied.length === 0) return `<h3>Lesion study</h3>${note}`;
  const properties = studied[0]!.lesions.map((l) => l.property);
  const values: GroupedValue[] = [];
  const rows: string[] = [];
  const means: string[] = [];
  for (const property of properties) {
    const cells: string[] = [];
    for (let g = 0; g < a.groups; g++) {
      const per = studied.map((r) => {
        const l = r.lesions.find((x) => x.property === property)!;
        return { run: r, baseline: l.baseline, row: l.rows.find((x) => x.group === g)! };
      });
      const rel = per.map((x) => x.row.relativeIncrease);
      const meanRel = rel.reduce((s, x) => s + x, 0) / rel.length;
      values.push({ group: groupLabel(g, a.groups), series: propertyLabel(property), value: meanRel, points: rel });
      rows.push(
        `<tr><td>${escapeHtml(propertyLabel(property))}</td><td>${groupLabel(g, a.groups)}</td>` +
          `<td>${per.map((x) => (x.row.count > 0 ? `${sig(x.row.lo)} – ${sig(x.row.hi)}` : '—')).join('<br>')}</td>` +
          `<td>${per.map((x) => x.row.count).join('<br>')}</td>` +
          `<td>${per.map((x) => sig(x.baseline.loss)).join('<br>')}</td>` +
          `<td>${per.map((x) => sig(x.row.loss)).join('<br>')}</td>` +
          `<td>${per.map((x) => `${sig(100 * x.row.relativeIncrease)} %`).join('<br>')}</td>` +
          `<td><b>${sig(100 * meanRel)} %</b></td></tr>`,
      );
      cells.push(
        `<td><b>${sig(100 * meanRel)} %</b> <span class="ci">[${rel.map((x) => `${sig(100 * x)}`).join(', ')}]</span></td>`,
      );
    }
    means.push(`<tr><td>${escapeHtml(propertyLabel(property))}</td>${cells.join('')}</tr>`);
  }
  const svg = await renderSvg(
    groupedBarsSpec(values, {
      xTitle: `neurons silenced: quantile group of the property`,
      yTitle: 'loss increase on the next task',
      format: '.0%',
    }),
  );
  const seedsList = studied.map((r) => r.seedIndex).join(', ');
  return `<h3>Lesion study</h3>
<p class="muted">After task ${a.tasks}, neurons grouped by quantile of each ${a.keys.length ? 'learned' : ''} property, one group silenced at a time; loss on the held-out batch of task ${a.tasks + 1} (not trained on), relative to the intact network. Bars: mean over seeds ${seedsList}; dots: each seed.</p>
${note}<figure>${svg}</figure>
<table class="compact lesion-means"><thead><tr><th>property</th>${Array.from({ length: a.groups }, (_, g) => `<th>${groupLabel(g, a.groups)}</th>`).join('')}</tr></thead>
<tbody>${means.join('\n')}</tbody></table>
<p class="muted">Mean loss increase over seeds, each seed's in brackets (%).</p>
<details><summary>Data per seed (${seedsList}: one line each)</summary>
<table class="compact lesion"><thead><tr><th>property</th><th>group</th><th>value range</th><th>neurons</th><th>intact loss</th><th>lesioned loss</th><th>increase</th><th>mean</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></details>`;
}

async function modularitySection(a: ConfigurationAnalysis, cap: number): Promise<string> {
  const tasks = a.runs.flatMap((r) => r.tasks.map((t) => ({ seedIndex: r.seedIndex, ...t })));
  if (tasks.length === 0) return '';
  const c = a.modularityEfficiency;
  const svg = await renderSvg(
    logScatterSpec(
      tasks
        .filter((t) => Number.isFinite(t.qStart))
        .map((t) => ({ x: t.qStart, y: t.iterations, series: `seed ${t.seedIndex}`, ok: t.converged })),
      {
        title: [`Pearson r = ${sig(c.pearson, 2)}, Spearman ρ = ${sig(c.spearman, 2)} (n = ${c.n} tasks)`],
        xTitle: "modularity Q of |W_rec| at the task's start",
        yTitle: 'iterations to criterion',
      },
    ),
  );
  const rows = tasks
    .map(
      (t) =>
        `<tr><td>${t.seedIndex}</td><td>${t.taskIndex + 1}</td><td>${sig(t.qStart)}</td><td>${sig(t.qEnd)}</td><td>${t.communities}</td><td>${t.iterations}</td><td>${t.converged ? 'yes' : 'no'}</td></tr>`,
    )
    .join('\n');
  return `<h3>Modularity and adaptation efficiency</h3>
<p class="muted">Newman's Q of the undirected recurrent graph (|W| + |W|ᵀ)/2, leading-eigenvector communities (seeded), measured before each task, against the iterations that task took (failures count at the iterations spent, up to the cap ${cap}). Negative correlation: more modular, faster. Dashed: least-squares fit of log iterations on Q.</p>
<figure>${svg}</figure>
<details><summary>Data (${tasks.length} tasks)</summary>
<table class="compact modularity"><thead><tr><th>seed</th><th>task</th><th>Q at start</th><th>Q at end</th><th>communities</th><th>iterations</th><th>converged</th></tr></thead>
<tbody>${rows}</tbody></table></details>`;
}

/** The report section of a configuration analysis (SCIENCE.md §8). */
export async function analysisSectionHtml(a: ConfigurationAnalysis, iterationCap: number): Promise<string> {
  const seeds = a.runs.map((r) => r.seedIndex).join(', ');
  return `<h2>Analyses of the chosen configuration</h2>
<p class="muted">Mask <code>${escapeHtml(a.candidate)}</code> [${escapeHtml(a.keys.join(', ') || '∅')}] trained again on seed${a.runs.length === 1 ? '' : 's'} ${seeds}, tasks 1–${a.tasks}, ${a.hidden} neurons, engine ${escapeHtml(a.engine)}, with the intrinsic values recorded after each task and the recurrent graph's modularity measured before each (${sig(a.wallSeconds, 2)} s).</p>
${verification(a)}
${await intrinsicSection(a)}
${await lesionSection(a)}
${await modularitySection(a, iterationCap)}`;
}
