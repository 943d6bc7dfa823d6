// The agent WebSocket (docs/protocol.md): one per tab. It says hello, subscribes to the inbox,
// re-joins followed conversations from their last sequence number after every reconnect (200 per
// `join_many` frame), resends unacknowledged messages with their original client ids, and
// reconnects with jittered backoff.
import type { AgentFrame, AgentStatus, ServerFrame } from '../api/protocol';

export type Connection = 'connecting' | 'online' | 'offline';

export interface SocketHooks {
  /** A valid access token, or null when signed out. */
  token(): Promise<string | null>;
  /** Forces a refresh (the server closed with 4001). */
  refreshToken(): Promise<string | null>;
  /** The conversations to follow and the last `seq` held for each. */
  followed(): Array<[string, number]>;
  /** Frames not yet acknowledged, to resend after a reconnect. */
  unacked(): AgentFrame[];
  /** The presence this member chose. */
  presence(): Exclude<AgentStatus, 'offline'>;
  frame(frame: ServerFrame): void;
  connection(state: Connection): void;
  /** Access was revoked (4005): the session is over. */
  revoked(): void;
}

const PING_EVERY_MS = 25_000;
/** Conversations one `join_many` frame may name (docs/protocol.md). */
export const JOIN_MANY_MAX = 200;

/** The `join_many` frames that resume `followed` conversations. */
export function resumeFrames(followed: Array<[string, number]>): AgentFrame[] {
  const frames: AgentFrame[] = [];
  for (let start = 0; start < followed.length; start += JOIN_MANY_MAX) {
    const conversations = followed
      .slice(start, start + JOIN_MANY_MAX)
      .map(([conversation_id, last_seq]) => ({ conversation_id, last_seq }));
    frames.push({ type: 'join_many', conversations });
  }
  return frames;
}
const PONG_WITHIN_MS = 10_000;

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class AgentSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = true;
  private ready = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private lastHeard = Date.now();
  /** Bumped by start and stop: an open() that awaited a token across either gives up. */
  private generation = 0;
  private lastExpiredAt = 0;
  private readonly online = () => this.nudge();

  constructor(private readonly hooks: SocketHooks) {}

  start(): void {
    this.stopped = false;
    this.generation += 1;
    clearTimeout(this.timer);
    window.addEventListener('online', this.online);
    void this.open();
  }

  /** Started and not stopped (connected or trying to be). */
  running(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    window.removeEventListener('online', this.online);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    this.ws?.close(1000);
    this.ws = null;
  }

  /** Sends when connected; otherwise the frame is dropped (callers keep what must be resent). */
  send(frame: AgentFrame): boolean {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Reconnect at once (after the network came back or the tab woke up). */
  nudge(): void {
    if (this.stopped) return;
    if (!this.ws || this.ws.readyState === WebSocket.CLOSED) {
      clearTimeout(this.timer);
      void this.open();
    }
  }

  private async open(fresh = false): Promise<void> {
    if (this.stopped) return;
    const generation = this.generation;
    this.hooks.connection('connecting');
    let token: string | null;
    try {
      token = fresh ? await this.hooks.refreshToken() : await this.hooks.token();
    } catch {
      if (generation === this.generation) this.retry();
      return;
    }
    // Stopped or restarted while the token was fetched: that call owns the socket now.
    if (this.stopped || generation !== this.generation || this.ws) return;
    if (!token) {
      this.hooks.revoked();
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws/agent?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', protocol: 1 } satisfies AgentFrame));
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      if (frame.type === 'welcome') this.welcomed(ws);
      if (frame.type !== 'pong') this.hooks.frame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pinger);
      this.hooks.connection('offline');
      if (this.stopped || event.code === 1000) return;
      if (event.code === 4005) {
        this.hooks.revoked();
        return;
      }
      if (event.code === 4001) {
        // Expired: refresh and come back at once, unless it just happened (a clock problem).
        const again = Date.now() - this.lastExpiredAt < 10_000;
        this.lastExpiredAt = Date.now();
        if (again) this.retry();
        else void this.open(true);
        return;
      }
      this.retry();
    };
  }

  private welcomed(ws: WebSocket): void {
    this.ready = true;
    this.attempt = 0;
    const send = (frame: AgentFrame) => ws.send(JSON.stringify(frame));
    send({ type: 'subscribe_inbox' });
    const presence = this.hooks.presence();
    if (presence !== 'online') send({ type: 'set_presence', status: presence });
    for (const frame of resumeFrames(this.hooks.followed())) send(frame);
    for (const frame of this.hooks.unacked()) send(frame);
    this.hooks.connection('online');
    clearInterval(this.pinger);
    this.lastHeard = Date.now();
    this.pinger = setInterval(() => this.watch(ws), PING_EVERY_MS);
  }

  /** A socket that heard nothing, not even a pong, is dead even if the browser has not noticed. */
  private watch(ws: WebSocket): void {
    if (Date.now() - this.lastHeard > PING_EVERY_MS + PONG_WITHIN_MS) {
      ws.close(4000);
      if (this.ws === ws) {
        this.ws = null;
        this.hooks.connection('offline');
        this.retry();
      }
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping' } satisfies AgentFrame));
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.open(), backoffMs(this.attempt));
    this.attempt += 1;
  }
}
