import { api } from './api.js';
import { badge, errorBox, h, mount, progressBar, shortId, when } from './dom.js';
import type { CandidateView, SearchList, SearchView } from './types.js';

const PAGE_SIZE = 20;
const TERMINAL = ['COMPLETE', 'FAILED', 'CANCELLED'];

/** Task trainings measured so far: the sum of the runs' tasks. */
async function tasksDone(id: string): Promise<number> {
  const c = await api<{ items: CandidateView[] }>(`/v1/searches/${id}/candidates`);
  return c.items.reduce((n, x) => n + x.runs.reduce((m, r) => m + r.tasksDone, 0), 0);
}

/** The list of searches, newest first, a page at a time, refreshed while any of them runs. */
export function searchesPage(root: HTMLElement, page: number, onCleanup: (f: () => void) => void): void {
  const done = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  onCleanup(() => {
    stopped = true;
    clearTimeout(timer);
  });

  const render = (list: SearchList) => {
    const total = list.total ?? list.items.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const rows = list.items.map((s: SearchView) =>
      h(
        'tr',
        {},
        h('td', {}, h('a', { href: `#/searches/${s.id}`, class: 'mono' }, shortId(s.id))),
        h('td', {}, s.family),
        h('td', {}, badge(s.state)),
        h(
          'td',
          { class: 'wide' },
          progressBar(
            s.state === 'COMPLETE' ? (done.get(s.id) ?? s.plannedTaskTrainings) : (done.get(s.id) ?? 0),
            s.plannedTaskTrainings,
          ),
        ),
        h('td', { class: 'mono small' }, s.space.join(' ')),
        h('td', {}, String(s.strategy.kind ?? '')),
        h('td', { class: 'small' }, when(s.createdAt)),
      ),
    );
    mount(
      root,
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, 'Searches'),
        h('a', { href: '#/new', class: 'button' }, 'New search'),
      ),
      list.items.length === 0
        ? h('p', { class: 'muted' }, 'No searches yet for this key. ', h('a', { href: '#/new' }, 'Submit one.'))
        : h(
            'table',
            { class: 'grid', id: 'searches' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Search', 'Family', 'State', 'Progress (task trainings)', 'Space', 'Strategy', 'Created'].map((t) =>
                  h('th', {}, t),
                ),
              ),
            ),
            h('tbody', {}, rows),
          ),
      h(
        'nav',
        { class: 'pager' },
        page > 1 ? h('a', { href: `#/searches?page=${page - 1}` }, '← newer') : h('span', {}),
        h('span', { class: 'muted' }, `page ${page} of ${pages} · ${total} searches`),
        page < pages ? h('a', { href: `#/searches?page=${page + 1}` }, 'older →') : h('span', {}),
      ),
    );
  };

  const load = async () => {
    try {
      const list = await api<SearchList>(`/v1/searches?limit=${PAGE_SIZE}&page=${page}`);
      // A queued search has done nothing yet; a finished one is asked once.
      const pending = list.items.filter(
        (s) => s.state !== 'QUEUED' && (!TERMINAL.includes(s.state) || !done.has(s.id)),
      );
      await Promise.all(pending.map(async (s) => done.set(s.id, await tasksDone(s.id))));
      if (stopped) return;
      render(list);
      // Refreshed while any search is unfinished, less often the more there are (the key's rate limit).
      const active = list.items.filter((s) => !TERMINAL.includes(s.state)).length;
      if (active > 0) timer = setTimeout(() => void load(), Math.max(3000, 400 * active));
    } catch (e) {
      if (!stopped) mount(root, h('h1', {}, 'Searches'), errorBox(e));
    }
  };
  mount(root, h('h1', {}, 'Searches'), h('p', { class: 'muted' }, 'Loading…'));
  void load();
}
