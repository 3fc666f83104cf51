type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

/** h('a', { href: '#/x', class: 'link' }, 'text'): an element; on* attributes become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
  return el;
}

/** Replaces an element's children. */
export function mount(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.append(typeof c === 'number' ? String(c) : c);
  }
}

export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
  return Number.isInteger(x) ? String(x) : x.toPrecision(digits);
}

export interface Interval {
  readonly mean: number | null;
  readonly lo: number | null;
  readonly hi: number | null;
}

/** "12.3 [10.1, 14.0]" */
export function interval(i: Interval | null | undefined): string {
  if (i === null || i === undefined) return '–';
  if (i.lo === null && i.hi === null) return fmt(i.mean);
  return `${fmt(i.mean)} [${fmt(i.lo)}, ${fmt(i.hi)}]`;
}

export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}`;
}

export const shortId = (id: string): string => id.slice(0, 8);

export function badge(state: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${state.toLowerCase()}` }, state.toLowerCase());
}

export function progressBar(done: number, total: number): HTMLDivElement {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return h(
    'div',
    { class: 'progress', title: `${done} of ${total} task trainings` },
    h('div', { class: 'progress-fill', style: `width: ${pct.toFixed(1)}%` }),
    h('span', { class: 'progress-label' }, `${done} / ${total}`),
  );
}

export function errorBox(e: unknown): HTMLDivElement {
  return h('div', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e));
}
