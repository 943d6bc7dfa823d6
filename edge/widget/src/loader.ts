// The loader: what `<script async src="https://edge/w/SITE_KEY.js">` runs on the tenant's page,
// after the edge's prefix has set `window.KefuConfig`. It draws the launcher in a shadow root (the
// host page's CSS cannot reach in), keeps the `Kefu(...)` JS API, and loads the chat UI only when
// needed: on the first open, or when the browser is idle after the page loaded. The root is open
// (docs/widget.md: a closed root hides nothing from the page's scripts, but blinds tests and
// assistive tooling).
// Budget: 3 KB gzip (checked by scripts/size.mjs), so no framework here.

import type { Bridge, Identity, KefuConfig, KefuEvent, Mount, OpenChat, UiApi } from './config';
import { pickLanguage } from './lang';

declare const __KEFU_UI__: string;

type Command = [string, ...unknown[]];
interface KefuFn {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  _mount?: (mount: Mount) => void;
  _loaded?: boolean;
}

const w = window as unknown as { Kefu?: KefuFn; KefuConfig?: KefuConfig };
const config = w.KefuConfig;

if (config && !(w.Kefu && w.Kefu._loaded)) start(config);

function start(config: KefuConfig): void {
  // The hosted chat page carries the mailed link; there the chat is the page.
  const link = document.documentElement.getAttribute('data-kefu-link');
  if (link) config.link = link;
  const queued = (w.Kefu && w.Kefu.q) || [];
  const listeners: Partial<Record<KefuEvent, Array<(data: unknown) => void>>> = {};
  const later: Command[] = [];
  let ui: UiApi | null = null;
  let loading = false;
  let identity: Identity | null = null;
  let context: Record<string, unknown> | string | null = null;
  let sound = true;
  // The last `status` event, for listeners added after it (the UI emits it only on changes).
  let status: unknown;

  const s = config.settings;
  const lang = pickLanguage(s.languages, s.default_language);
  const title = (s.texts[lang] || s.texts[s.default_language] || { title: 'Chat' }).title;
  const side = s.position === 'left' ? 'left' : 'right';

  const host = document.createElement('div');
  host.setAttribute('data-kefu-widget', '');
  // Inline and !important: page rules that match every element (or this one) lose.
  host.style.cssText =
    'all:initial!important;position:fixed!important;bottom:0!important;' + side +
    ':0!important;width:0!important;height:0!important;z-index:2147483000!important;display:block!important';
  const root = host.attachShadow({ mode: 'open' });
  const color = /^#[0-9a-fA-F]{3,8}$/.test(s.color) ? s.color : '#2563eb';
  root.innerHTML =
    '<style>:host{all:initial}.kl{position:fixed;bottom:20px;' + side + ':20px;width:56px;height:56px;' +
    'border-radius:50%;border:0;padding:0;margin:0;cursor:pointer;background:' + color +
    ';color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;' +
    'justify-content:center;z-index:2;font:16px/1 system-ui,sans-serif}.kl:focus-visible{outline:3px solid #111;' +
    'outline-offset:2px}.kl svg{width:28px;height:28px}.kb{position:absolute;top:-4px;right:-4px;min-width:20px;' +
    'height:20px;padding:0 5px;box-sizing:border-box;border-radius:10px;background:#dc2626;color:#fff;' +
    'font:700 12px/20px system-ui,sans-serif;text-align:center}.kb[hidden]{display:none}</style>' +
    '<button class="kl" part="launcher" type="button" aria-haspopup="dialog" aria-expanded="false">' +
    '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 ' +
    '2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg><span class="kb" hidden></span></button>';
  const launcher = root.querySelector('button') as HTMLButtonElement;
  const badge = root.querySelector('.kb') as HTMLElement;
  launcher.setAttribute('aria-label', title);
  launcher.onclick = () => run(['toggle']);
  if (link) launcher.style.display = 'none';

  const bridge: Bridge = {
    config,
    root,
    get identity() {
      return identity;
    },
    get context() {
      return context;
    },
    get sound() {
      return sound;
    },
    emit(event, data) {
      if (event === 'status') status = data;
      for (const fn of listeners[event] || []) call(fn, data);
    },
    setUnread(count) {
      badge.hidden = count <= 0;
      badge.textContent = count > 99 ? '99+' : String(count);
    },
    setOpen(open) {
      launcher.setAttribute('aria-expanded', String(open));
      launcher.style.display = link || (open && innerWidth < 480) ? 'none' : '';
    },
  };

  function load(): void {
    if (loading) return;
    loading = true;
    const script = document.createElement('script');
    script.src = config.edge_url + '/' + __KEFU_UI__;
    script.async = true;
    script.onerror = () => {
      loading = false;
      console.error('Kefu: the chat UI could not be loaded');
    };
    document.head.appendChild(script);
  }

  function call(fn: (data: unknown) => void, data: unknown): void {
    try {
      fn(data);
    } catch (e) {
      console.error('Kefu: an event listener threw', e);
    }
  }

  function run(command: Command): void {
    const [name, arg, fn] = command;
    if (name === 'onSessionChange') {
      run(['on', 'status', arg]);
    } else if (name === 'on' && typeof arg === 'string' && typeof fn === 'function') {
      (listeners[arg as KefuEvent] ||= []).push(fn as (data: unknown) => void);
      if (arg === 'status' && status) call(fn as (data: unknown) => void, status);
    } else if (name === 'identify' && arg && typeof arg === 'object') {
      identity = arg as Identity;
      if (ui) ui.identify(identity);
    } else if (name === 'setContext' && arg && (typeof arg === 'object' || typeof arg === 'string')) {
      context = arg as Record<string, unknown> | string;
      if (ui) ui.setContext(context);
    } else if (name === 'openChat') {
      // The context now (a later setContext wins), then open with the message for the composer.
      const o = (arg || {}) as OpenChat;
      if (o.context) run(['setContext', o.context]);
      run(['open', o.message]);
    } else if (name === 'sound') {
      sound = arg !== false;
      if (ui) ui.setSound(sound);
    } else if (name === 'open' || name === 'close' || name === 'toggle') {
      if (ui) ui[name](arg);
      else if (name !== 'close') {
        later.push(command);
        load();
      }
    } else {
      console.warn('Kefu: unknown command', name);
    }
  }

  const kefu: KefuFn = (...args: unknown[]) => run(args as Command);
  kefu._loaded = true;
  kefu._mount = (mount) => {
    if (ui) return;
    ui = mount(bridge);
    for (const command of later.splice(0)) run(command);
    bridge.emit('ready');
  };
  w.Kefu = kefu;
  for (const args of queued) run(Array.prototype.slice.call(args) as Command);
  if (link) run(['open']);

  const attach = () => document.documentElement.appendChild(host);
  if (document.body) attach();
  else document.addEventListener('DOMContentLoaded', attach);

  // Idle preload: a returning visitor's open conversation shows its unread messages without a click.
  const idle = () => {
    const ric = (window as unknown as { requestIdleCallback?: (f: () => void, o: object) => void })
      .requestIdleCallback;
    if (ric) ric(load, { timeout: 4000 });
    else setTimeout(load, 2000);
  };
  if (document.readyState === 'complete') idle();
  else addEventListener('load', idle);
}
