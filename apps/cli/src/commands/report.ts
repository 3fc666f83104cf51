import { join } from 'node:path';
import type { ImportanceView } from '@ip2/contracts/http';
import { importanceSvg, toJson, validationSvg } from '@ip2/report';
import { UsageError } from '../errors.js';
import { ensureWritableDir, writeAtomic } from '../output.js';
import { connect, ServerError, type ConnectionFlags } from '../server/client.js';
import type { FixedConfigView, SearchView } from '../server/types.js';
import { checkSearchId } from './watch.js';

export interface ReportFlags extends ConnectionFlags {
  out?: string;
}

/**
 * `ip2 report <id>`: downloads a finished search's outputs into --out, the files `ip2 search` writes:
 * report.html, tasks.json, tasks.csv and fixed-config.json (the server's record), and the report's two
 * evidence plots on their own: importance.svg (when the search measured every mask) and validation.svg
 * (when the decision was validated); and analysis.json, the analyses of the chosen configuration, once
 * the worker that computes them after completion has stored them (until then it says they are pending:
 * run it again later). Nothing is written unless every download succeeded.
 */
export async function runReport(id: string, f: ReportFlags): Promise<number> {
  const sid = checkSearchId(id);
  const client = connect(f);
  const what = `search ${sid}`;
  const search = await client.json<SearchView>(`/v1/searches/${sid}`, {}, what);
  if (search.state !== 'COMPLETE') {
    throw new UsageError(
      `<id>: search ${sid} is ${search.state}: its report exists once it completes (follow it with: ip2 watch ${sid})`,
    );
  }
  const [html, json, csv, configs, importance, analysisText] = await Promise.all([
    client.text(`/v1/searches/${sid}/report`, what),
    client.text(`/v1/searches/${sid}/results?format=json`, what),
    client.text(`/v1/searches/${sid}/results?format=csv`, what),
    client.json<{ items: FixedConfigView[] }>(`/v1/configs?family=${encodeURIComponent(search.family)}`, {}, 'configs'),
    client.json<ImportanceView>(`/v1/searches/${sid}/importance`, {}, what),
    client.optionalText(`/v1/searches/${sid}/analysis`, what),
  ]);
  const analyses = analysisText === null ? null : parseAnalyses(analysisText, what);
  const config = configs.items.find((c) => c.searchId === sid);
  if (config === undefined)
    throw new ServerError(`${what} is COMPLETE but the server has no fixed configuration for it`);
  // The plots are drawn here from the server's numbers, by the code that draws them for `ip2 search`.
  const validation = config.record.validation;
  const figures = [
    ...(importance.importance === null
      ? []
      : [{ name: 'importance.svg', svg: await importanceSvg(importance.importance) }]),
    ...(validation !== undefined && validation.verdict !== 'unvalidated'
      ? [{ name: 'validation.svg', svg: await validationSvg(validation) }]
      : []),
  ];
  const out = ensureWritableDir('--out', f.out ?? join('results', sid));
  writeAtomic(join(out, 'report.html'), html);
  writeAtomic(join(out, 'tasks.json'), json);
  writeAtomic(join(out, 'tasks.csv'), csv);
  writeAtomic(join(out, 'fixed-config.json'), JSON.stringify(config.record, null, 2) + '\n');
  for (const { name, svg } of figures) writeAtomic(join(out, name), svg);
  // As `ip2 search` writes it (NaN and ±Infinity as strings): the same bytes but for the wall time.
  if (analyses?.state === 'COMPLETE') writeAtomic(join(out, 'analysis.json'), toJson(analyses.analysis));
  process.stdout.write(
    [
      `search ${sid}: chosen mask ${config.record.mask.bits} = [${config.record.mask.keys.join(', ') || 'none'}]`,
      `report → ${join(out, 'report.html')}`,
      `results → ${join(out, 'tasks.json')}, ${join(out, 'tasks.csv')}`,
      ...(figures.length > 0 ? [`figures → ${figures.map((x) => join(out, x.name)).join(', ')}`] : []),
      analysesLine(analyses, join(out, 'analysis.json'), sid),
      `fixed configuration ${config.record.hash.slice(0, 16)}… → ${join(out, 'fixed-config.json')}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** GET /v1/searches/{id}/analysis: the analyses of the chosen configuration with their state. */
interface AnalysesView {
  readonly state: 'PENDING' | 'COMPLETE' | 'FAILED';
  readonly seeds: number;
  readonly error: string | null;
  readonly analysis: unknown;
}

function parseAnalyses(text: string, what: string): AnalysesView {
  try {
    const v = JSON.parse(text) as AnalysesView;
    if (v.state === 'PENDING' || v.state === 'COMPLETE' || v.state === 'FAILED') return v;
  } catch {
    // reported below
  }
  throw new ServerError(`${what}: the server's analyses are not the JSON this version of ip2 reads`);
}

function analysesLine(a: AnalysesView | null, file: string, sid: string): string {
  if (a === null)
    return 'analyses: the server has none for this search (the controller asks for none with ANALYSIS_SEEDS=0)';
  switch (a.state) {
    case 'COMPLETE':
      return `analyses of the chosen configuration (${a.seeds} runs trained again) → ${file}`;
    case 'PENDING':
      return `analyses: pending (a worker is training the chosen configuration again on ${a.seeds} seeds); run ip2 report ${sid} again later for analysis.json`;
    case 'FAILED':
      return `analyses: failed on the server (${a.error ?? 'no reason given'})`;
  }
}
