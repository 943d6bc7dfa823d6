// The chat UI bundle: loaded by the loader on first open or when the browser is idle, it mounts
// the panel into the loader's shadow root and hands the loader its API (open/close/toggle,
// identify, setContext, openChat's message) and the page its `status` event. Notifications for
// unseen agent messages live here: the launcher's badge, a blinking title and a short sound.

import { render } from 'preact';
import type { Identity, Mount, UiApi } from '../config';
import { pickLanguage } from '../lang';
import type { MessageFrame } from '../protocol';
import { App } from './app';
import { Chat } from './chat';
import { strings } from './i18n';
import { contextOf, teamStatus } from './jsapi';
import { css } from './styles';

const mount: Mount = (bridge) => {
  const { config } = bridge;
  const s = config.settings;
  const language = pickLanguage(s.languages, s.default_language);
  const texts = s.texts[language] || s.texts[s.default_language] || Object.values(s.texts)[0];
  const t = strings(language);
  let identity: Identity | null = bridge.identity;
  let open = false;
  let sound = bridge.sound;
  // The latest `openChat` message for the composer (a new object each time: the App takes it once).
  let prefill: { text: string } | null = null;

  const style = document.createElement('style');
  style.textContent = css(s.color, s.position);
  const container = document.createElement('div');
  container.lang = language;
  bridge.root.append(style, container);

  const blink = titleBlink(t.newMessage);
  const chat = new Chat(
    config,
    () => identity,
    (message: MessageFrame) => {
      bridge.emit('message', { body: message.body, sender: message.sender, seq: message.seq });
      if (!seeing()) {
        blink.start();
        if (sound) beep();
      }
    },
    (agents) => bridge.emit('agent_status', agents),
  );
  const setContext = (value: unknown) => {
    const context = contextOf(value);
    if (context) chat.setContext(context);
    else console.warn('Kefu: the context is a JSON object or a string; ignored');
  };
  if (bridge.context) setContext(bridge.context);
  chat.subscribe((state) => bridge.setUnread(state.unread));
  let lastUnread = 0;
  let lastStatus = '';
  chat.subscribe((state) => {
    if (state.unread !== lastUnread) bridge.emit('unread', (lastUnread = state.unread));
    // Only what the server said: nothing before its first `status` frame, then each change.
    const status = teamStatus(state);
    if (status && JSON.stringify(status) !== lastStatus) {
      lastStatus = JSON.stringify(status);
      bridge.emit('status', status);
    }
  });

  const seeing = () => open && document.visibilityState === 'visible';
  const sync = () => {
    chat.setSeeing(seeing());
    if (seeing()) blink.stop();
  };
  document.addEventListener('visibilitychange', sync);

  const draw = () =>
    render(
      <App
        chat={chat}
        config={config}
        texts={texts}
        language={language}
        t={t}
        open={open}
        prefill={prefill}
        onClose={() => api.close()}
      />,
      container,
    );

  const setOpen = (next: boolean) => {
    if (next === open) return;
    open = next;
    if (open) chat.connect();
    bridge.setOpen(open);
    draw();
    sync();
    bridge.emit(open ? 'open' : 'close');
  };

  const api: UiApi = {
    open(message) {
      if (typeof message !== 'string' || !message) return setOpen(true);
      prefill = { text: message };
      if (open) draw();
      else setOpen(true);
    },
    // On the hosted chat page the chat is the page: it stays open.
    close: () => setOpen(!!config.link),
    toggle: () => setOpen(!open || !!config.link),
    identify(next) {
      const changed = !identity || identity.id !== next.id || identity.vip !== next.vip;
      identity = next;
      if (next.name || next.email) chat.setProfile(identified(next), false);
      if (changed) chat.reidentify();
    },
    setContext,
    setSound(on) {
      sound = on;
    },
  };

  draw();
  if (chat.hasHistory()) chat.connect();
  if (identity && (identity.name || identity.email)) chat.setProfile(identified(identity), false);
  return api;
};

/** The profile `identify` carries; an email the server would refuse is left out (it would be
 * resent, and refused, on every reconnect). */
function identified(identity: Identity): { name?: string; email?: string } {
  const email = identity.email && /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(identity.email) ? identity.email : undefined;
  return { name: identity.name ? String(identity.name).slice(0, 200) : undefined, email };
}

/** Alternates the page title with a notice until the visitor looks. */
function titleBlink(notice: string) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let original = '';
  return {
    start() {
      if (timer) return;
      original = document.title;
      let on = false;
      timer = setInterval(() => {
        on = !on;
        document.title = on ? `(${notice}) ${original}` : original;
      }, 1000);
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      document.title = original;
    },
  };
}

/** A short two-tone chime (Web Audio: no sound file to download). Browsers may refuse it until the visitor interacted with the page. */
function beep(): void {
  try {
    const Ctx = window.AudioContext || (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.35);
    for (const [freq, at] of [
      [880, 0],
      [1320, 0.12],
    ]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.2);
    }
    setTimeout(() => void ctx.close(), 600);
  } catch {
    // No sound: fine.
  }
}

const hook = (window as unknown as { Kefu?: { _mount?: (m: Mount) => void } }).Kefu;
if (hook && hook._mount) hook._mount(mount);
