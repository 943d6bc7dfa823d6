// Desktop notifications and a sound for new conversations and new visitor messages in the
// member's own conversations (F18). One tab of the browser notifies: the leader, elected with a
// Web Lock, so five open tabs do not chime five times.
import { isMine, type Items } from './inbox';

const SOUND_KEY = 'kefu.sound';

class Notifier {
  private leader = false;
  private audio: AudioContext | undefined;
  /** Filled by the UI with translated texts. */
  texts = { newConversation: 'New conversation', newMessage: 'New message', notConnected: 'Not connected: try again in a moment.' };

  constructor() {
    if (typeof navigator !== 'undefined' && navigator.locks) {
      void navigator.locks.request('kefu.notifier', () => {
        this.leader = true;
        return new Promise<void>(() => undefined);
      });
    } else {
      this.leader = true;
    }
  }

  soundOn(): boolean {
    return localStorage.getItem(SOUND_KEY) !== 'off';
  }

  setSound(on: boolean): void {
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
  }

  /** Asks for permission once, from a click. */
  async enable(): Promise<NotificationPermission> {
    if (typeof Notification === 'undefined') return 'denied';
    return Notification.requestPermission();
  }

  newConversation(id: string): void {
    this.alert(this.texts.newConversation, id, id);
  }

  /** Compares inbox reads: visitor messages that became unread in the member's conversations. */
  compare(before: Items, after: Items, me: string): void {
    for (const [id, item] of after) {
      const held = before.get(id);
      if (!held || !isMine(item, me) || item.unread <= held.unread) continue;
      this.alert(this.texts.newMessage, item.last_message?.body ?? '', `${id}:${item.last_seq}`);
    }
  }

  /** A visitor message arrived live in a followed conversation of the member's. */
  newMessage(id: string, seq: number, body: string): void {
    this.alert(this.texts.newMessage, body, `${id}:${seq}`);
  }

  private alert(title: string, body: string, tag: string): void {
    if (!this.leader) return;
    if (this.soundOn()) this.chime();
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
      new Notification(title, { body: body.slice(0, 140), tag });
    }
  }

  private chime(): void {
    try {
      this.audio ??= new AudioContext();
      const ctx = this.audio;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.4);
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch {
      // Audio is a nicety; browsers may refuse it before the first click.
    }
  }
}

export const notifier = new Notifier();
