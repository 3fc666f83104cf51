import { api, ApiError, type ProblemIssue } from './api.js';
import {
  FAMILY_HINTS,
  PAPER_SPACE,
  PROPERTY_KEYS,
  SCORE_METRICS,
  searchDefinitionSchema,
  STRATEGY_KINDS,
} from './definition.js';
import { h, mount } from './dom.js';
import type { SearchView } from './types.js';

interface Field {
  /** The definition's path ('protocol.network.hidden'); problem+json issues name the same paths. */
  readonly path: string;
  readonly label: string;
  readonly hint?: string;
  /** Default value filled in the form (empty: the schema's default applies). */
  readonly value?: string;
  readonly options?: readonly string[];
  /** A select whose values are numbers (sent as numbers). */
  readonly numeric?: boolean;
  /** Shown only for this strategy kind. */
  readonly strategy?: string;
}

const FIELDS: readonly Field[] = [
  { path: 'strategy.kind', label: 'Strategy', options: STRATEGY_KINDS, value: 'exhaustive' },
  { path: 'strategy.eta', label: 'Keep 1/η per rung (η)', hint: 'default 3', strategy: 'successive-halving' },
  { path: 'strategy.minTasks', label: 'Shortest rung (tasks)', hint: 'default 10', strategy: 'successive-halving' },
  { path: 'strategy.n', label: 'Masks drawn', strategy: 'random' },
  { path: 'protocol.tasks', label: 'Tasks per run', hint: 'default 100' },
  { path: 'protocol.seeds', label: 'Seeds per candidate', hint: 'default 5' },
  { path: 'protocol.baseSeed', label: 'Base seed', hint: 'default 1' },
  { path: 'protocol.iterationCap', label: 'Iteration cap', hint: 'default 20000' },
  { path: 'protocol.criterion.window', label: 'Criterion window', hint: 'default 50' },
  { path: 'protocol.criterion.epsilon', label: 'Criterion ε', hint: 'default 0.005' },
  { path: 'protocol.network.hidden', label: 'Hidden neurons', hint: 'default 100' },
  { path: 'protocol.network.lr', label: 'Learning rate', hint: 'default 0.001' },
  {
    path: 'protocol.network.modelVersion',
    label: 'Model version (defaults)',
    options: ['2', '1'],
    value: '2',
    numeric: true,
  },
  { path: 'protocol.network.propertyOptimizer', label: 'Property optimiser', options: ['adam', 'sgd'], value: 'adam' },
  {
    path: 'protocol.network.propertyLr',
    label: 'Property learning rate',
    hint: "default: the weights' (model version 1: 0.01)",
  },
  {
    path: 'protocol.network.readout',
    label: 'Readout',
    options: ['', 'spikes', 'membrane'],
    value: '',
    hint: "the model version's (2: spikes, 1: membrane)",
  },
  { path: 'protocol.batchSize', label: 'Trials per iteration', hint: "default: the family's conditions" },
  { path: 'protocol.evalBatch', label: 'Held-out trials', hint: 'default 32' },
  { path: 'score.metric', label: 'Score metric', options: SCORE_METRICS, value: 'restricted-mean' },
  { path: 'validation.seeds', label: 'Validation seeds', hint: 'default 3; 0: no validation' },
  { path: 'budget.maxTaskTrainings', label: 'Budget (task trainings)', hint: 'optional' },
];

/** A number where the text is one; otherwise the text itself, for the schema to refuse with its message. */
function numberOr(text: string): number | string {
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? Number(text) : text;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = target;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts.at(-1)!] = value;
}

/** The form to submit a search, checked with the API's own definition schema before it is sent. */
export function submitPage(root: HTMLElement, navigate: (hash: string) => void): void {
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const errors = new Map<string, HTMLElement>();
  const rows = new Map<string, HTMLElement>();
  const general = h('div', { class: 'form-errors', role: 'alert' });
  const errorSlot = (path: string) => {
    const el = h('div', { class: 'field-error', 'data-error-for': path });
    errors.set(path, el);
    return el;
  };

  const family = h('input', { id: 'f-family', name: 'family', list: 'families', value: 'sma', autocomplete: 'off' });
  inputs.set('family', family);
  const space = PROPERTY_KEYS.map((k) =>
    h(
      'label',
      { class: 'check' },
      h('input', {
        type: 'checkbox',
        name: 'space',
        value: k,
        checked: (PAPER_SPACE as readonly string[]).includes(k),
      }),
      ` ${k}`,
    ),
  );

  const fieldRow = (f: Field) => {
    const id = `f-${f.path.replaceAll('.', '-')}`;
    const input =
      f.options === undefined
        ? h('input', {
            id,
            name: f.path,
            placeholder: f.hint ?? '',
            value: f.value ?? '',
            inputmode: 'decimal',
            autocomplete: 'off',
          })
        : h(
            'select',
            { id, name: f.path },
            f.options.map((o) =>
              h('option', { value: o, selected: o === f.value }, o === '' ? `default: ${f.hint ?? ''}` : o),
            ),
          );
    inputs.set(f.path, input);
    const row = h(
      'div',
      { class: 'field', 'data-field': f.path },
      h('label', { for: id }, f.label, h('span', { class: 'path' }, f.path)),
      input,
      errorSlot(f.path),
    );
    rows.set(f.path, row);
    return row;
  };

  const showStrategy = () => {
    const kind = inputs.get('strategy.kind')!.value;
    for (const f of FIELDS) if (f.strategy !== undefined) rows.get(f.path)!.hidden = f.strategy !== kind;
  };

  const body = (): Record<string, unknown> => {
    const b: Record<string, unknown> = { family: family.value.trim() };
    b.space = space
      .map((l) => l.querySelector('input')!)
      .filter((i) => i.checked)
      .map((i) => i.value);
    const kind = inputs.get('strategy.kind')!.value;
    for (const f of FIELDS) {
      if (f.strategy !== undefined && f.strategy !== kind) continue;
      const text = inputs.get(f.path)!.value.trim();
      if (text === '') continue;
      setPath(b, f.path, f.options === undefined || f.numeric === true ? numberOr(text) : text);
    }
    return b;
  };

  /** Puts each message next to its field (the longest field path the issue's path starts with). */
  const showIssues = (issues: readonly ProblemIssue[], detail?: string) => {
    for (const el of errors.values()) mount(el);
    const unplaced: string[] = [];
    for (const issue of issues) {
      const path = [...errors.keys()]
        .filter((p) => issue.path === p || issue.path.startsWith(`${p}.`))
        .sort((a, b) => b.length - a.length)[0];
      if (path === undefined) unplaced.push(issue.message);
      else errors.get(path)!.append(h('div', {}, issue.message));
    }
    // The detail repeats the field messages: shown only when no field took a message.
    const lines = unplaced.length > 0 ? unplaced : issues.length === 0 && detail !== undefined ? [detail] : [];
    mount(
      general,
      lines.map((l) => h('div', {}, l)),
    );
    for (const p of errors.keys()) rows.get(p)?.classList.toggle('invalid', errors.get(p)!.childElementCount > 0);
  };

  const submit = h('button', { type: 'submit', class: 'button' }, 'Submit search');
  const form = h(
    'form',
    {
      id: 'search-form',
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const b = body();
        const parsed = searchDefinitionSchema.safeParse(b);
        if (!parsed.success) {
          showIssues(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
          return;
        }
        showIssues([]);
        submit.disabled = true;
        api<SearchView>('/v1/searches', { method: 'POST', body: b }).then(
          (s) => navigate(`#/searches/${s.id}`),
          (err: unknown) => {
            submit.disabled = false;
            if (err instanceof ApiError && err.problem !== null) {
              showIssues(err.problem.errors ?? [], err.problem.detail);
            } else {
              showIssues([], err instanceof Error ? err.message : String(err));
            }
          },
        );
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'What to search'),
      h(
        'div',
        { class: 'field', 'data-field': 'family' },
        h('label', { for: 'f-family' }, 'Task family', h('span', { class: 'path' }, 'family')),
        family,
        h(
          'datalist',
          { id: 'families' },
          FAMILY_HINTS.map((f) => h('option', { value: f })),
        ),
        errorSlot('family'),
      ),
      h(
        'div',
        { class: 'field', 'data-field': 'space' },
        h('span', { class: 'label' }, 'Properties the mask ranges over', h('span', { class: 'path' }, 'space')),
        h('div', { class: 'checks' }, space),
        errorSlot('space'),
      ),
      FIELDS.filter((f) => f.path.startsWith('strategy.')).map(fieldRow),
    ),
    h('fieldset', {}, h('legend', {}, 'Protocol'), FIELDS.filter((f) => f.path.startsWith('protocol.')).map(fieldRow)),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Scoring, validation and budget'),
      FIELDS.filter(
        (f) => f.path.startsWith('score.') || f.path.startsWith('validation.') || f.path.startsWith('budget.'),
      ).map(fieldRow),
    ),
    general,
    h('div', { class: 'actions' }, submit),
  );
  inputs.get('strategy.kind')!.addEventListener('change', showStrategy);
  showStrategy();
  mount(
    root,
    h('h1', {}, 'New search'),
    h(
      'p',
      { class: 'muted' },
      'Empty fields take the defaults shown. The definition is checked here with the same schema the API uses, then by the API itself (family and server limits).',
    ),
    form,
  );
}
