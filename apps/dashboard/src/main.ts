import { clearKey, getKey, setKey } from './api.js';
import { configsPage } from './configs.js';
import { h, mount } from './dom.js';
import { searchPage } from './search.js';
import { searchesPage } from './searches.js';
import { submitPage } from './submit.js';
import './style.css';

const app = document.getElementById('app')!;
const keyBox = document.getElementById('key')!;
let cleanups: (() => void)[] = [];

function renderKey(): void {
  const key = getKey();
  if (key !== null) {
    mount(
      keyBox,
      h('span', { class: 'muted small' }, 'key ', h('span', { class: 'mono' }, `${key.slice(0, 12)}…`)),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            clearKey();
            route();
          },
        },
        'forget',
      ),
    );
    return;
  }
  mount(keyBox);
}

function keyForm(): HTMLElement {
  const input = h('input', {
    id: 'api-key',
    type: 'password',
    placeholder: 'ip2_…',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  return h(
    'form',
    {
      class: 'key-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = input.value.trim();
        if (v === '') return;
        setKey(v);
        route();
      },
    },
    h('h1', {}, 'API key'),
    h(
      'p',
      { class: 'muted' },
      'Paste a key (created with ip2-api-keys create <owner>). It is kept in this tab’s session storage only and sent as a bearer token to the API.',
    ),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'button' }, 'Use key')),
  );
}

/** Hash routes: #/searches[?page=n], #/searches/:id, #/new, #/configs?family=f. */
function route(): void {
  for (const c of cleanups) c();
  cleanups = [];
  const onCleanup = (f: () => void) => cleanups.push(f);
  renderKey();
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', path.startsWith(a.getAttribute('href')!.slice(1)));
  }
  if (getKey() === null) {
    mount(app, keyForm());
    return;
  }
  const search = /^\/searches\/([0-9a-f-]{36})$/i.exec(path);
  if (search !== null) searchPage(app, search[1]!, onCleanup);
  else if (path === '/new') submitPage(app, (hash) => (location.hash = hash));
  else if (path === '/configs') configsPage(app, params.get('family') ?? 'sma');
  else searchesPage(app, Math.max(1, Number(params.get('page') ?? 1) || 1), onCleanup);
}

window.addEventListener('hashchange', route);
route();
