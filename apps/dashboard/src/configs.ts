import { api } from './api.js';
import { FAMILY_HINTS } from './definition.js';
import { errorBox, h, interval, mount, shortId, when } from './dom.js';
import { decisionView } from './search.js';
import type { FixedConfigView } from './types.js';

/** A family's fixed configurations (the chosen masks, versioned), newest first, with their evidence. */
export function configsPage(root: HTMLElement, family: string): void {
  const body = h('div', {});
  const tabs = h(
    'nav',
    { class: 'tabs' },
    FAMILY_HINTS.map((f) => h('a', { href: `#/configs?family=${f}`, class: f === family ? 'active' : '' }, f)),
  );
  mount(root, h('h1', {}, 'Fixed configurations'), tabs, body);
  mount(body, h('p', { class: 'muted' }, 'Loading…'));

  api<{ items: FixedConfigView[] }>(`/v1/configs?family=${encodeURIComponent(family)}`).then(
    ({ items }) => {
      if (items.length === 0) {
        mount(
          body,
          h('p', { class: 'muted' }, `No fixed configuration for ${family} yet: a completed search records one.`),
        );
        return;
      }
      const newest = [...items].reverse();
      const rows = newest.map((c) => {
        const e = c.record.evidence;
        return h(
          'tr',
          {},
          h('td', { class: 'num' }, `v${c.version}`),
          h('td', { class: 'mono' }, c.bits),
          h('td', {}, (c.record.mask?.keys ?? []).join(', ') || h('span', { class: 'muted' }, 'none')),
          h('td', { class: 'mono small' }, (c.record.space ?? []).join(' ')),
          h('td', { class: 'num' }, String(c.modelVersion ?? 1)),
          h('td', {}, e?.rule.metric ?? '–'),
          h('td', { class: 'num' }, interval(e?.best.score)),
          h('td', {}, e === undefined ? '–' : e.separable ? 'yes' : 'no'),
          h('td', {}, c.verdict ?? c.record.validation?.verdict ?? 'unvalidated'),
          h(
            'td',
            {},
            c.searchId === null
              ? '–'
              : h('a', { href: `#/searches/${c.searchId}`, class: 'mono' }, shortId(c.searchId)),
          ),
          h('td', { class: 'small' }, when(c.createdAt)),
          h('td', { class: 'mono small', title: c.hash }, c.hash.slice(0, 12)),
        );
      });
      const latest = newest[0]!;
      mount(
        body,
        h(
          'table',
          { class: 'grid', id: 'configs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [
                'Version',
                'Mask',
                'Learnable',
                'Space',
                'Model',
                'Metric',
                'Score [interval]',
                'Separable',
                'Verdict',
                'Search',
                'Fixed',
                'Hash',
              ].map((t) => h('th', {}, t)),
            ),
          ),
          h('tbody', {}, rows),
        ),
        latest.record.evidence === undefined
          ? null
          : h(
              'section',
              {},
              h('h2', {}, `Evidence of v${latest.version} (model version ${latest.modelVersion ?? 1})`),
              decisionView(latest.record.evidence, latest),
            ),
      );
    },
    (e: unknown) => mount(body, errorBox(e)),
  );
}
