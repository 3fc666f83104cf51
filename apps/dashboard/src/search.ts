import { api, download } from './api.js';
import { CurveChart, colour, type CurveSeries } from './chart.js';
import { badge, errorBox, fmt, h, interval, mount, progressBar, shortId, when } from './dom.js';
import { importanceView, validationView } from './evidence.js';
import { openEventStream } from './sse.js';
import type {
  CandidateView,
  Comparison,
  Decision,
  FixedConfigView,
  ImportanceView,
  SearchView,
  StateEvent,
  TaskEvent,
} from './types.js';

/** Firing at the end of a task, on its held-out batch. */
interface Firing {
  readonly rate: number | null;
  readonly active: number | null;
  readonly neurons: number | null;
}

interface Measured {
  /**
   * The search's own runs (seed index < protocol.seeds): seed index → task index → iterations to criterion (a
   * failed task: censored at its iterations − window). The validation's runs are counted in `results` only.
   */
  readonly seeds: Map<number, Map<number, number>>;
  /** seed index → task index → firing at the end of the task (the search's runs). */
  readonly firing: Map<number, Map<number, Firing>>;
  /** Task results of every run, the validation's included. */
  results: number;
  /** Failed tasks of the search's runs. */
  failures: number;
  /** Tasks that ended near-silent (fewer than 10% of the neurons active). */
  nearSilent: number;
}

/** A task ends near-silent when fewer than this fraction of its neurons spiked (as the HTML report flags it). */
const NEAR_SILENT_FRACTION = 0.1;

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The state shown for a candidate: the mask a finished search fixed is 'chosen'. */
function shownState(c: CandidateView, search: SearchView, fixed: string | null): string {
  if (fixed !== null && fixed === c.bits) return 'chosen';
  if (c.state === 'COMPLETE' && search.state !== 'COMPLETE') return 'measured';
  return c.state.toLowerCase();
}

/** Where a candidate left the search, from the decision's rungs: pruned after one, or finished the last. */
function stoppedText(c: CandidateView, decision: Decision | null): string {
  if (decision === null) return c.state === 'PRUNED' ? `pruned (rung ${c.rung + 1})` : `rung ${c.rung + 1}`;
  const pruned = decision.rungs.find((r) => r.pruned.includes(c.bits));
  if (pruned !== undefined) return `pruned after rung ${pruned.rung + 1} (${pruned.tasks} tasks)`;
  const last = decision.rungs[decision.rungs.length - 1];
  if (last !== undefined && last.ranking.some((x) => x.id === c.bits)) {
    return `finished rung ${last.rung + 1} (${last.tasks} tasks)`;
  }
  return 'validation only';
}

function downloadLink(label: string, path: string, mode: { save: string } | 'open', onError: (e: unknown) => void) {
  return h(
    'a',
    {
      href: path,
      class: 'button secondary',
      'data-path': path,
      onclick: (e: Event) => {
        e.preventDefault();
        download(path, mode).catch(onError);
      },
    },
    label,
  );
}

/** One search: live curves and candidate table from the event stream, then the decision. */
export function searchPage(root: HTMLElement, id: string, onCleanup: (f: () => void) => void): void {
  let search: SearchView | null = null;
  let candidates: CandidateView[] = [];
  let decision: Decision | null = null;
  /** The mask the search fixed (the runner-up when its validation overturned the choice). */
  let fixedBits: string | null = null;
  let tasksDone = 0;
  let streamStatus = 'connecting';
  const measured = new Map<string, Measured>();
  const validationSeen = new Set<string>();
  let chart: CurveChart | null = null;
  let pending: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  let stopped = false;

  const head = h('div', { class: 'search-head' });
  const notice = h('div', {});
  const chartBox = h('div', { class: 'chart', id: 'curves' });
  const curveNote = h('p', { class: 'muted small' });
  const tableBox = h('div', { id: 'candidates' });
  const decisionBox = h('div', { id: 'decision' });
  const importanceBox = h('div', {});
  onCleanup(() => {
    stopped = true;
    stop?.();
    clearTimeout(pending);
    chart?.destroy();
  });

  const fail = (e: unknown) => mount(notice, errorBox(e));

  const renderHead = () => {
    if (search === null) return;
    const s = search;
    const p = s.protocol as { tasks?: number; seeds?: number; network?: { hidden?: number } };
    const results = `/v1/searches/${s.id}/results`;
    mount(
      head,
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, `Search `, h('span', { class: 'mono' }, shortId(s.id)), ' ', badge(s.state)),
        h(
          'span',
          { class: `stream stream-${streamStatus.split(' ')[0]}`, id: 'stream-status' },
          `stream: ${streamStatus}`,
        ),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Family'),
        h('dd', {}, s.family),
        h('dt', {}, 'Space'),
        h('dd', { class: 'mono' }, s.space.join(' ')),
        h('dt', {}, 'Strategy'),
        h('dd', {}, String(s.strategy.kind ?? '')),
        h('dt', {}, 'Protocol'),
        h('dd', {}, `${p.tasks ?? '?'} tasks × ${p.seeds ?? '?'} seeds, ${p.network?.hidden ?? '?'} hidden`),
        h('dt', {}, 'Created'),
        h('dd', {}, when(s.createdAt)),
        h('dt', {}, 'Finished'),
        h('dd', {}, when(s.finishedAt)),
      ),
      h('div', { class: 'progress-row' }, progressBar(tasksDone, s.plannedTaskTrainings)),
      s.error === null ? null : h('div', { class: 'error' }, s.error),
      h(
        'div',
        { class: 'downloads' },
        downloadLink('Results (CSV)', `${results}?format=csv`, { save: `search-${s.id}.csv` }, fail),
        downloadLink('Results (JSON)', `${results}?format=json`, { save: `search-${s.id}.json` }, fail),
        downloadLink('HTML report', `/v1/searches/${s.id}/report`, 'open', fail),
      ),
    );
  };

  const ordered = () => [...candidates].sort((a, b) => a.bits.localeCompare(b.bits));

  const seriesOf = (c: CandidateView, i: number): CurveSeries => {
    const m = measured.get(c.bits);
    const tasks = Number((search?.protocol as { tasks?: number }).tasks ?? 0);
    const values = Array.from({ length: tasks }, (_, t) => {
      const xs: number[] = [];
      for (const seed of m?.seeds.values() ?? []) {
        const v = seed.get(t);
        if (v !== undefined) xs.push(v);
      }
      return median(xs);
    });
    const chosen = fixedBits === c.bits;
    const control = c.role === 'rsnn-noip' || c.role === 'ip-inner';
    return {
      label: `${c.bits} ${c.keys.length === 0 ? '(no IP)' : c.keys.join('+')}`,
      color: c.role === 'rsnn-noip' ? '#6b6b78' : c.role === 'ip-inner' ? '#1f1f2a' : colour(i),
      width: chosen ? 3.5 : 1.75,
      ...(control ? { dash: [6, 4] } : {}),
      values,
    };
  };

  const renderCurves = () => {
    if (search === null || candidates.length === 0) return;
    const tasks = Number((search.protocol as { tasks?: number }).tasks ?? 0);
    chart ??= new CurveChart(chartBox);
    chart.update(tasks, ordered().map(seriesOf));
    let n = 0;
    for (const m of measured.values()) n += m.results;
    mount(
      curveNote,
      `Median over seeds of the iterations each task took to reach the criterion (a failed task: censored at the iterations it ran − the window). ` +
        `${n} task results so far. Dashed: the controls (no IP, IP on every property); thick: the chosen mask.`,
    );
  };

  const renderTable = () => {
    if (search === null) return;
    const s = search;
    const dt = Number((s.protocol as { network?: { dt?: number } }).network?.dt ?? 20);
    const hz = 1000 / dt;
    const rows = ordered().map((c) => {
      const m = measured.get(c.bits);
      const last: number[] = [];
      let lastTask = -1;
      for (const seed of m?.seeds.values() ?? []) for (const t of seed.keys()) lastTask = Math.max(lastTask, t);
      for (const seed of m?.seeds.values() ?? []) {
        const v = seed.get(lastTask);
        if (v !== undefined) last.push(v);
      }
      const rates: number[] = [];
      const active: number[] = [];
      let neurons: number | null = null;
      for (const seed of m?.firing.values() ?? []) {
        const f = seed.get(lastTask);
        if (f?.rate !== null && f?.rate !== undefined) rates.push(f.rate * hz);
        if (f?.active !== null && f?.active !== undefined) active.push(f.active);
        if (f?.neurons !== null && f?.neurons !== undefined) neurons = f.neurons;
      }
      const activeText = active.length === 0 ? '–' : `${fmt(median(active))}${neurons === null ? '' : ` / ${neurons}`}`;
      const state = shownState(c, s, fixedBits);
      return h(
        'tr',
        { 'data-mask': c.bits, class: state === 'chosen' ? 'chosen' : state === 'pruned' ? 'pruned' : '' },
        h('td', { class: 'mono' }, c.bits),
        h('td', {}, c.keys.length === 0 ? h('span', { class: 'muted' }, 'none') : c.keys.join(', ')),
        h('td', { class: 'small' }, c.role),
        h('td', {}, badge(state)),
        h('td', { class: 'num' }, c.rung),
        h('td', { class: 'num' }, m?.results ?? 0),
        h('td', { class: 'num' }, m?.failures ?? 0),
        h('td', { class: 'num' }, lastTask < 0 ? '–' : `${fmt(median(last))} (task ${lastTask})`),
        h('td', { class: 'num' }, rates.length === 0 ? '–' : fmt(median(rates), 2)),
        h(
          'td',
          { class: 'num' },
          activeText,
          (m?.nearSilent ?? 0) > 0
            ? h(
                'span',
                {
                  class: 'badge badge-silent',
                  title: `${m!.nearSilent} task(s) ended with fewer than 10% of the neurons active`,
                },
                'near-silent',
              )
            : null,
        ),
        h('td', { class: 'num' }, interval(c.score)),
        h('td', { class: 'small' }, stoppedText(c, decision)),
      );
    });
    // The controller stores every score on the same prefix of tasks: the first rung's (every mask has it).
    const footing = decision?.rungs[0]?.tasks;
    mount(
      tableBox,
      h(
        'table',
        { class: 'grid' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              'Mask',
              'Learnable',
              'Role',
              'State',
              'Rung',
              'Results',
              'Failures',
              'Median iterations, last task',
              'Firing (Hz), last task',
              'Active neurons, last task',
              `Score ${decision === null ? '' : `(${decision.rule.metric}${footing === undefined ? '' : `, first ${footing} tasks`})`} [interval]`,
              'Stopped',
            ].map((t) => h('th', {}, t)),
          ),
        ),
        h('tbody', {}, rows),
      ),
    );
  };

  const render = () => {
    clearTimeout(pending);
    pending = undefined;
    renderHead();
    renderCurves();
    renderTable();
  };
  /** Many events arrive at once on a (re)connect: draw at most every 300 ms. */
  const schedule = () => {
    pending ??= setTimeout(render, 300);
  };

  const loadDecision = async (attempt = 0): Promise<void> => {
    if (search === null || stopped) return;
    const configs = await api<{ items: FixedConfigView[] }>(`/v1/configs?family=${encodeURIComponent(search.family)}`);
    const config = configs.items.find((c) => c.searchId === id);
    if (config?.record.evidence === undefined) {
      if (attempt < 10) {
        await new Promise((r) => setTimeout(r, 1000));
        return loadDecision(attempt + 1);
      }
      mount(decisionBox, h('p', { class: 'muted' }, 'No fixed configuration was recorded for this search.'));
      return;
    }
    decision = config.record.evidence;
    fixedBits = config.bits;
    mount(decisionBox, decisionView(decision, config));
    render();
  };

  const loadImportance = async (): Promise<void> => {
    if (stopped) return;
    mount(importanceBox, importanceView(await api<ImportanceView>(`/v1/searches/${id}/importance`)));
  };

  const onTask = (t: TaskEvent) => {
    let m = measured.get(t.candidate);
    if (m === undefined) {
      m = { seeds: new Map(), firing: new Map(), results: 0, failures: 0, nearSilent: 0 };
      measured.set(t.candidate, m);
    }
    const searchSeeds = Number((search?.protocol as { seeds?: number } | undefined)?.seeds ?? Infinity);
    if (t.seedIndex >= searchSeeds) {
      // A validation run (a fresh seed after the decision): counted, but not drawn with the search's curves.
      const key = `${t.seedIndex}/${t.taskIndex}`;
      if (!validationSeen.has(`${t.candidate}/${key}`)) {
        validationSeen.add(`${t.candidate}/${key}`);
        m.results += 1;
      }
      return;
    }
    let seed = m.seeds.get(t.seedIndex);
    if (seed === undefined) {
      seed = new Map();
      m.seeds.set(t.seedIndex, seed);
    }
    const active = t.activeNeurons ?? null;
    const neurons = t.neurons ?? null;
    if (!seed.has(t.taskIndex)) {
      m.results += 1;
      if (!t.converged) m.failures += 1;
      if (active !== null && neurons !== null && neurons > 0 && active < NEAR_SILENT_FRACTION * neurons)
        m.nearSilent += 1;
    }
    seed.set(t.taskIndex, t.iterations ?? t.totalIterations);
    let firing = m.firing.get(t.seedIndex);
    if (firing === undefined) {
      firing = new Map();
      m.firing.set(t.seedIndex, firing);
    }
    firing.set(t.taskIndex, { rate: t.firingRate ?? null, active, neurons });
  };

  const start = async () => {
    try {
      search = await api<SearchView>(`/v1/searches/${id}`);
      candidates = (await api<{ items: CandidateView[] }>(`/v1/searches/${id}/candidates`)).items;
    } catch (e) {
      mount(root, h('h1', {}, 'Search'), errorBox(e));
      return;
    }
    if (stopped) return;
    mount(
      root,
      head,
      notice,
      h('section', {}, h('h2', {}, 'Adaptation speed'), chartBox, curveNote),
      h('section', {}, h('h2', {}, 'Candidates'), tableBox),
      h('section', {}, h('h2', {}, 'Decision'), decisionBox),
      h('section', {}, h('h2', {}, 'Property importance'), importanceBox),
    );
    mount(
      decisionBox,
      h(
        'p',
        { class: 'muted' },
        'The decision is made when every rung is measured, validated on fresh seeds, and then fixed.',
      ),
    );
    mount(importanceBox, h('p', { class: 'muted' }, 'From the factorial over masks, once the search completes.'));
    render();
    stop = openEventStream(`/v1/searches/${id}/events`, {
      onStatus: (st) => {
        streamStatus = st;
        schedule();
      },
      onEvent: (e) => {
        const data = JSON.parse(e.data) as unknown;
        if (e.event === 'task') onTask(data as TaskEvent);
        else if (e.event === 'candidates') {
          const byBits = new Map(candidates.map((c) => [c.bits, c]));
          for (const u of (data as { items: Partial<CandidateView>[] }).items) {
            const c = byBits.get(u.bits!);
            if (c !== undefined) byBits.set(c.bits, { ...c, ...u } as CandidateView);
          }
          candidates = [...byBits.values()];
        } else if (e.event === 'state') {
          const st = data as StateEvent;
          tasksDone = st.tasksDone;
          if (search !== null) {
            search = {
              ...search,
              state: st.state,
              error: st.error,
              startedAt: st.startedAt,
              finishedAt: st.finishedAt,
            };
          }
        } else if (e.event === 'end') {
          const state = (data as { state: string }).state;
          if (state === 'COMPLETE') {
            loadDecision().catch(fail);
            loadImportance().catch(fail);
          } else
            mount(decisionBox, h('p', { class: 'muted' }, `No decision: the search ended ${state.toLowerCase()}.`));
        }
        schedule();
      },
    });
  };
  mount(root, h('p', { class: 'muted' }, 'Loading…'));
  void start();
}

function comparisonRow(label: string, c: Comparison | null) {
  if (c === null) return null;
  return h(
    'tr',
    {},
    h('td', {}, label),
    h('td', { class: 'mono' }, c.candidate),
    h('td', { class: 'num' }, c.tasks),
    h('td', { class: 'num' }, interval(c.best)),
    h('td', { class: 'num' }, interval(c.other)),
    h('td', { class: 'num' }, c.ratio === null ? '–' : `${fmt(c.ratio)}×`),
    h('td', { class: 'num' }, interval(c.advantage)),
  );
}

const METRICS: readonly [keyof Decision['best']['metrics'], string][] = [
  ['finalEfficiency', 'Final efficiency (iterations, last tasks)'],
  ['speedUp', 'Speed-up (first / last)'],
  ['l2lSlope', 'L2L slope'],
  ['auc', 'Area under the curve'],
  ['failures', 'Failures'],
];

/** The decision with its evidence: the chosen mask, the comparisons, the metrics and the rungs. */
export function decisionView(d: Decision, config: FixedConfigView): HTMLElement {
  const level = Math.round(d.bootstrap.level * 100);
  const better = d.rule.direction === 'lower' ? 'lower is better' : 'higher is better';
  const keys = config.record.mask?.keys ?? d.best.keys;
  const overturned = config.bits !== d.best.id;
  return h(
    'div',
    { class: 'decision' },
    h(
      'p',
      { class: 'verdict' },
      'Chosen mask ',
      h('strong', { class: 'mono' }, config.bits),
      ` (learnable: ${keys.length === 0 ? 'none' : keys.join(', ')})`,
      overturned
        ? h(
            'span',
            { class: 'warn' },
            ` — the runner-up: the search preferred ${d.best.id}, and its validation on fresh seeds overturned it`,
          )
        : null,
      `; scored by `,
      h('strong', {}, d.rule.metric),
      ` (${better}) over ${d.seeds} seeds × ${d.tasks} tasks. `,
      d.runnerUp === null
        ? 'A single candidate was measured.'
        : d.separable
          ? `Its ${level}% interval does not overlap the runner-up's (${d.runnerUp.id}).`
          : `Its ${level}% interval overlaps the runner-up's (${d.runnerUp.id}): the ranking is not separable at this budget.`,
    ),
    validationView(config.record.validation),
    h('h3', {}, "On the search's own seeds"),
    h(
      'table',
      { class: 'grid compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Against', 'Mask', 'Tasks', 'Chosen', 'Other', 'Ratio', `Advantage [${level}% interval]`].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        comparisonRow('runner-up', d.versusRunnerUp),
        comparisonRow('no IP (rsnn-noip)', d.versus['rsnn-noip']),
        comparisonRow('IP on all (ip-inner)', d.versus['ip-inner']),
      ),
    ),
    h(
      'table',
      { class: 'grid compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Metric'),
          h('th', {}, `Chosen ${d.best.id}`),
          d.runnerUp === null ? null : h('th', {}, `Runner-up ${d.runnerUp.id}`),
        ),
      ),
      h(
        'tbody',
        {},
        METRICS.map(([k, label]) =>
          h(
            'tr',
            {},
            h('td', {}, label),
            h('td', { class: 'num' }, interval(d.best.metrics[k])),
            d.runnerUp === null ? null : h('td', { class: 'num' }, interval(d.runnerUp.metrics[k])),
          ),
        ),
      ),
    ),
    h(
      'ul',
      { class: 'rungs' },
      d.rungs.map((r) =>
        h(
          'li',
          {},
          `Rung ${r.rung} (${r.tasks} tasks): `,
          r.ranking.map((x, i) => h('span', { class: 'mono' }, `${i === 0 ? '' : ' > '}${x.id}`)),
          r.pruned.length === 0 ? '' : ` — pruned ${r.pruned.join(', ')}`,
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      `${d.taskTrainings.measured} of ${d.taskTrainings.planned} planned task trainings measured; `,
      `${d.bootstrap.resamples} bootstrap resamples. Recorded as `,
      h('a', { href: `#/configs?family=${encodeURIComponent(config.family)}` }, `${config.family} v${config.version}`),
      ` (hash ${config.hash.slice(0, 12)}…).`,
    ),
  );
}
