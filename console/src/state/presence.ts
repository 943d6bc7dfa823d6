// The member's chosen presence (F16) and auto-away, shared by every tab of this browser through
// localStorage: choosing "busy" in one tab makes every tab send it, and activity in any tab keeps
// all of them from going away. "Offline" disconnects the console's socket, so colleagues and
// routing see the member offline.
import type { AgentStatus } from '../api/protocol';

export type Choice = AgentStatus;

const CHOICE_KEY = 'kefu.presence';
const ACTIVITY_KEY = 'kefu.activity';
/** Away after this long without keyboard or pointer input in any tab. */
export const AWAY_AFTER_MS = 10 * 60_000;
const WRITE_ACTIVITY_EVERY_MS = 15_000;

/** Pure rule: what to announce for a choice and the time since the last input. */
export function effectiveStatus(choice: Choice, idleMs: number, awayAfterMs = AWAY_AFTER_MS): Choice {
  return choice === 'online' && idleMs >= awayAfterMs ? 'away' : choice;
}

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

class PresenceChoice {
  private listeners = new Set<() => void>();
  private lastWritten = 0;
  private last: Choice | undefined;
  private started = false;

  chosen(): Choice {
    const stored = read(CHOICE_KEY);
    return stored === 'busy' || stored === 'away' || stored === 'offline' ? stored : 'online';
  }

  choose(choice: Choice): void {
    localStorage.setItem(CHOICE_KEY, choice);
    this.activity();
    this.emit();
  }

  effective(): Choice {
    const last = Number(read(ACTIVITY_KEY) ?? Date.now());
    return effectiveStatus(this.chosen(), Date.now() - last);
  }

  subscribe(listener: () => void): () => void {
    this.start();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    const now = this.effective();
    this.last = now;
    for (const listener of this.listeners) listener();
  }

  private activity(): void {
    const now = Date.now();
    if (now - this.lastWritten < WRITE_ACTIVITY_EVERY_MS) return;
    this.lastWritten = now;
    localStorage.setItem(ACTIVITY_KEY, String(now));
    if (this.last === 'away' && this.chosen() === 'online') this.emit();
  }

  private start(): void {
    if (this.started || typeof window === 'undefined') return;
    this.started = true;
    localStorage.setItem(ACTIVITY_KEY, String(Date.now()));
    this.last = this.effective();
    for (const event of ['pointerdown', 'keydown', 'mousemove', 'focus']) {
      window.addEventListener(event, () => this.activity(), { passive: true });
    }
    window.addEventListener('storage', (event) => {
      if (event.key === CHOICE_KEY) this.emit();
      if (event.key === ACTIVITY_KEY && this.last !== this.effective()) this.emit();
    });
    setInterval(() => {
      if (this.last !== this.effective()) this.emit();
    }, 15_000);
  }
}

export const presenceChoice = new PresenceChoice();
