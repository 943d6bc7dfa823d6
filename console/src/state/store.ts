// The console's live state: the inbox, followed transcripts, typing, presence and the connection,
// fed by REST reads and the agent WebSocket. Components read it with `useConsole` and act through
// its methods; the pure rules live in inbox.ts and transcript.ts.
import { useSyncExternalStore } from 'react';
import type { AgentFrame, AgentStatus, ConversationSummary, ServerFrame, Sender } from '../api/protocol';
import { api, call } from '../api/client';
import type { components } from '../api/schema';
import { session } from '../auth/session';
import { AgentSocket, type Connection } from '../realtime/socket';
import * as inbox from './inbox';
import * as tx from './transcript';
import { notifier } from './notify';
import { presenceChoice, type Choice } from './presence';

export interface Typing {
  name: string;
  until: number;
}

export type Member = Pick<components['schemas']['MemberView'], 'user_id' | 'display_name' | 'email' | 'role'>;

export type Team = Pick<components['schemas']['TeamView'], 'id' | 'name' | 'user_ids'>;

export interface State {
  connection: Connection;
  items: inbox.Items;
  /** Whether the closed conversations were read (the closed view loads on demand). */
  closedLoaded: boolean;
  transcripts: ReadonlyMap<string, tx.Transcript>;
  typing: ReadonlyMap<string, Typing>;
  /** Per conversation, the `seq` the visitor has read up to (read receipts). */
  visitorRead: ReadonlyMap<string, number>;
  agents: ReadonlyMap<string, AgentStatus>;
  visitorsOnline: ReadonlySet<string>;
  /** Live current page per visitor from `page_view` frames. */
  pages: ReadonlyMap<string, { url: string; title: string | null; viewed_at: string }>;
  /** Bumped when a visitor's profile changed (`visitor_updated`), so panels re-read it. */
  visitorVersions: ReadonlyMap<string, number>;
  /** Bumped whenever the queue may have moved (a waiting conversation changed, presence,
   * `queue_changed`), so the queue view re-reads it. */
  queueVersion: number;
  members: readonly Member[];
  teams: readonly Team[];
  /** The last refusal the server sent for something this console asked (claim, close, …). */
  lastError: { code: string; message: string; at: number } | null;
}

const INITIAL: State = {
  connection: 'connecting',
  items: new Map(),
  closedLoaded: false,
  transcripts: new Map(),
  typing: new Map(),
  visitorRead: new Map(),
  agents: new Map(),
  visitorsOnline: new Set(),
  pages: new Map(),
  visitorVersions: new Map(),
  queueVersion: 0,
  members: [],
  teams: [],
  lastError: null,
};

const REFRESH_EVERY_MS = 500;
/** Conversations the refresh after live updates reads (the newest activity). */
const LATEST_PAGE = 50;
/** A retryable refusal (database unavailable, rate limited) is resent after this long. */
const RESEND_AFTER_MS = 2000;
/** Open conversations the inbox holds (read in pages of 100); beyond, the oldest are not shown. */
const MAX_OPEN = 2000;
/** Closed conversations the closed view shows (newest first). */
const MAX_CLOSED = 200;
/** A typing indicator without news disappears after this long. */
const TYPING_SHOWN_MS = 8000;

function with_<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

function newClientId(): string {
  return crypto.randomUUID();
}

export class ConsoleStore {
  private state: State = INITIAL;
  private listeners = new Set<() => void>();
  private socket: AgentSocket;
  private followed = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** Conversations touched by frames, per full read of the open inbox in progress. */
  private touched = new Set<Set<string>>();
  private unsubscribePresence: (() => void) | undefined;
  /** The conversation on screen: its visitor messages are read as they arrive. */
  reading: string | undefined;

  constructor(readonly me: string) {
    this.socket = new AgentSocket({
      token: () => session.accessToken(),
      refreshToken: () => session.refresh(),
      followed: () => [...this.followed].map((id) => [id, tx.lastSeq(this.transcript(id))]),
      unacked: () => this.unacked(),
      presence: () => {
        const choice = presenceChoice.effective();
        return choice === 'offline' ? 'away' : choice;
      },
      frame: (frame) => this.onFrame(frame),
      connection: (connection) => {
        // (Re)connected: the queue view reads again, as events may have been missed meanwhile.
        this.set(connection === 'online' ? { connection, queueVersion: this.state.queueVersion + 1 } : { connection });
        // A read that fails (the network dropped again) is retried by the next reconnect.
        if (connection === 'online') this.reload().catch((error: unknown) => console.warn('reload failed', error));
      },
      revoked: () => session.expire(),
    });
  }

  start(): void {
    this.unsubscribePresence = presenceChoice.subscribe(() => this.applyPresenceChoice());
    this.applyPresenceChoice();
    // Read again by `reload` at every (re)connect; a failure here is not the page's error.
    this.loadMembers().catch((error: unknown) => console.warn('loading members failed', error));
    this.loadTeams().catch((error: unknown) => console.warn('loading teams failed', error));
  }

  stop(): void {
    this.socket.stop();
    this.unsubscribePresence?.();
    clearTimeout(this.refreshTimer);
  }

  getState = (): State => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener();
  }

  transcript(id: string): tx.Transcript {
    return this.state.transcripts.get(id) ?? tx.EMPTY;
  }

  private setTranscript(id: string, transcript: tx.Transcript): void {
    if (transcript !== this.state.transcripts.get(id)) this.set({ transcripts: with_(this.state.transcripts, id, transcript) });
  }

  // ---------------------------------------------------------------- presence

  private applyPresenceChoice(): void {
    const choice: Choice = presenceChoice.effective();
    if (choice === 'offline') {
      this.socket.stop();
      this.set({ connection: 'offline' });
      return;
    }
    // Not running (first start, or back from "offline"): connecting announces the choice.
    if (!this.socket.running()) this.socket.start();
    else this.socket.send({ type: 'set_presence', status: choice });
  }

  // ---------------------------------------------------------------- reads

  /** Re-reads the open inbox (and the closed one if shown), people and presence, e.g. after a reconnect. */
  async reload(): Promise<void> {
    await Promise.all([
      this.loadList('open'),
      this.state.closedLoaded ? this.loadList('closed') : null,
      this.loadPresence(),
      this.loadMembers(),
      this.loadTeams(),
    ]);
  }

  /**
   * Reads a list: `full` pages through every open conversation (up to 2,000) or the latest
   * closed ones; `latest` reads the first page only (newest activity first: where anything that
   * just changed is). Only a full read of the open inbox drops what it did not return, and never
   * a conversation a frame touched while the read ran (it moved past the read's cursor).
   */
  async loadList(status: 'open' | 'closed', extent: 'full' | 'latest' = 'full'): Promise<void> {
    const listed: inbox.InboxItem[] = [];
    let before: string | undefined;
    const cap = extent === 'latest' ? LATEST_PAGE : status === 'open' ? MAX_OPEN : MAX_CLOSED;
    const touched = new Set<string>();
    if (extent === 'full' && status === 'open') this.touched.add(touched);
    try {
      do {
        const limit = Math.min(100, cap);
        const page = await call(api.GET('/api/v1/conversations', { params: { query: { status, limit, ...(before ? { before } : {}) } } }));
        listed.push(...page.conversations);
        before = page.next_before ?? undefined;
      } while (before && listed.length < cap);
    } finally {
      this.touched.delete(touched);
    }
    const held = this.state.items;
    let items = inbox.mergeListed(held, listed);
    if (extent === 'full' && status === 'open' && !before) {
      // A complete read: open conversations it no longer returns were closed meanwhile.
      const open = new Set(listed.map((l) => l.conversation_id));
      for (const [id, item] of held) if (item.status === 'open' && !open.has(id) && !touched.has(id)) items.delete(id);
    }
    if (this.reading) items = inbox.markRead(items, this.reading);
    notifier.compare(held, items, this.me);
    this.set({ items, ...(status === 'closed' && extent === 'full' ? { closedLoaded: true } : {}) });
  }

  private async loadPresence(): Promise<void> {
    const [agents, visitors] = await Promise.all([
      call(api.GET('/api/v1/presence/agents')),
      call(api.GET('/api/v1/presence/visitors')),
    ]);
    this.set({
      agents: new Map(agents.map((a) => [a.user_id, a.status])),
      visitorsOnline: new Set(visitors.visitors.map((v) => v.visitor_id)),
    });
  }

  async loadMembers(): Promise<void> {
    const members = await call(api.GET('/api/v1/members'));
    this.set({ members: members.map((m) => ({ user_id: m.user_id, display_name: m.display_name, email: m.email, role: m.role })) });
  }

  async loadTeams(): Promise<void> {
    const teams = await call(api.GET('/api/v1/teams'));
    this.set({ teams: teams.map((t) => ({ id: t.id, name: t.name, user_ids: t.user_ids })) });
  }

  /** A summary a REST action answered with: applied at once (the frame follows). */
  applySummary(summary: ConversationSummary): void {
    for (const set of this.touched) set.add(summary.conversation_id);
    this.set({ items: inbox.applyUpdate(this.state.items, summary) });
  }

  /** After live updates: the latest page again, at most once per interval (throttled, not debounced). */
  private scheduleRefresh(): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.loadList('open', 'latest').catch(() => undefined);
    }, REFRESH_EVERY_MS);
  }

  // ---------------------------------------------------------------- conversation

  /** Follows a conversation: loads its latest page over REST and joins it live. */
  async open(id: string): Promise<void> {
    this.reading = id;
    const stillHere = () => this.reading === id;
    if (!this.state.items.has(id)) {
      // Opened from a link or the visitor's history: not in the loaded lists.
      const summary = await call(api.GET('/api/v1/conversations/{conversation_id}', { params: { path: { conversation_id: id } } }));
      this.set({ items: inbox.mergeListed(this.state.items, [{ ...summary, unread: 0 }]) });
      if (!stillHere()) return;
    }
    this.set({ items: inbox.markRead(this.state.items, id) });
    if (!this.followed.has(id)) {
      const page = await call(api.GET('/api/v1/conversations/{conversation_id}/messages', {
        params: { path: { conversation_id: id }, query: { limit: 50 } },
      }));
      this.setTranscript(id, tx.addOlder(this.transcript(id), page.messages, page.has_more));
      this.followed.add(id);
      this.socket.send({ type: 'join', conversation_id: id, last_seq: tx.lastSeq(this.transcript(id)) });
    }
    // Passing through conversations with j/k marks read only the one the member stays on.
    if (stillHere()) this.markSeen(id);
  }

  /** Leaves the screen (the conversation stays followed, so coming back is instant). */
  close(id: string): void {
    if (this.reading === id) this.reading = undefined;
  }

  /** Scrolls back: the page before the oldest held message. */
  async loadOlder(id: string): Promise<void> {
    const t = this.transcript(id);
    const first = t.messages[0]?.seq;
    if (!t.hasOlder || first === undefined) return;
    const page = await call(api.GET('/api/v1/conversations/{conversation_id}/messages', {
      params: { path: { conversation_id: id }, query: { before_seq: first, limit: 50 } },
    }));
    this.setTranscript(id, tx.addOlder(this.transcript(id), page.messages, page.has_more));
  }

  /** Tells the team (and the visitor) that this member read up to the newest message. */
  markSeen(id: string): void {
    const seq = tx.lastVisitorSeq(this.transcript(id));
    if (seq > 0) this.socket.send({ type: 'read', conversation_id: id, seq });
    this.set({ items: inbox.markRead(this.state.items, id) });
  }

  /** Sends a reply (or a private note); shown at once as pending, resent until acknowledged. */
  write(id: string, body: string, options: { note?: boolean; attachmentId?: string } = {}): void {
    const pending: tx.Pending = {
      client_id: newClientId(),
      conversation_id: id,
      body,
      private: options.note ?? false,
      attachment_id: options.attachmentId,
      state: 'sending',
    };
    this.setTranscript(id, tx.addPending(this.transcript(id), pending));
    this.socket.send(frameOf(pending));
  }

  retry(id: string, clientId: string): void {
    const pending = this.transcript(id).pending.find((p) => p.client_id === clientId);
    if (!pending) return;
    this.setTranscript(id, tx.dropPending(this.transcript(id), clientId));
    this.write(id, pending.body, { note: pending.private, ...(pending.attachment_id ? { attachmentId: pending.attachment_id } : {}) });
  }

  discard(id: string, clientId: string): void {
    this.setTranscript(id, tx.dropPending(this.transcript(id), clientId));
  }

  typing(id: string, typing: boolean): void {
    this.socket.send({ type: 'typing', conversation_id: id, typing });
  }

  claim(id: string): boolean {
    return this.sendOrSay({ type: 'claim', conversation_id: id });
  }

  closeConversation(id: string): boolean {
    return this.sendOrSay({ type: 'close', conversation_id: id });
  }

  /** Sends, or tells the member it could not be sent because the console is not connected. */
  private sendOrSay(frame: AgentFrame): boolean {
    if (this.socket.send(frame)) return true;
    this.set({ lastError: { code: 'offline', message: notifier.texts.notConnected, at: Date.now() } });
    return false;
  }

  private unacked(): AgentFrame[] {
    const frames: AgentFrame[] = [];
    for (const t of this.state.transcripts.values()) {
      for (const p of t.pending) if (p.state === 'sending') frames.push(frameOf(p));
    }
    return frames;
  }

  // ---------------------------------------------------------------- frames

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message': {
        const { type: _type, ...message } = frame;
        const id = message.conversation_id;
        this.setTranscript(id, tx.addMessages(this.transcript(id), [message]));
        const reading = this.reading === id && document.visibilityState === 'visible';
        const held = this.state.items.get(id);
        this.set({ items: inbox.applyMessage(this.state.items, message, reading) });
        if (held && message.sender.kind === 'visitor' && message.seq > held.last_seq && !reading && inbox.isMine(held, this.me)) {
          notifier.newMessage(id, message.seq, message.body);
        }
        if (message.sender.kind === 'visitor') this.stopTyping(id);
        if (reading && message.sender.kind === 'visitor') this.markSeen(id);
        break;
      }
      case 'ack':
        // The message frame that follows carries the stored message; nothing to do until then.
        break;
      case 'conversation_updated': {
        const { type: _type, ...summary } = frame;
        const held = this.state.items.get(summary.conversation_id);
        const known = held !== undefined;
        const waitedBefore = held !== undefined && held.status === 'open' && !held.assignee;
        const waitsNow = summary.status === 'open' && !summary.assignee;
        this.applySummary(summary);
        if (waitedBefore || waitsNow) this.set({ queueVersion: this.state.queueVersion + 1 });
        if (!known && summary.status === 'open' && !summary.assignee) notifier.newConversation(summary.conversation_id);
        this.scheduleRefresh();
        break;
      }
      case 'typing':
        if (frame.sender.kind === 'visitor' || (frame.sender.kind === 'agent' && frame.sender.id !== this.me)) {
          const typing = new Map(this.state.typing);
          if (frame.typing) {
            const until = Date.now() + TYPING_SHOWN_MS;
            typing.set(frame.conversation_id, { name: senderName(frame.sender), until });
            setTimeout(() => {
              if (this.state.typing.get(frame.conversation_id)?.until === until) this.stopTyping(frame.conversation_id);
            }, TYPING_SHOWN_MS);
          } else typing.delete(frame.conversation_id);
          this.set({ typing });
        }
        break;
      case 'read':
        if (frame.reader.kind === 'agent') this.set({ items: inbox.markRead(this.state.items, frame.conversation_id) });
        else if (frame.seq > (this.state.visitorRead.get(frame.conversation_id) ?? 0)) {
          this.set({ visitorRead: with_(this.state.visitorRead, frame.conversation_id, frame.seq) });
        }
        break;
      case 'presence':
        this.set({ agents: with_(this.state.agents, frame.agent_id, frame.status), queueVersion: this.state.queueVersion + 1 });
        break;
      case 'queue_changed':
        this.set({ queueVersion: this.state.queueVersion + 1 });
        break;
      case 'visitor_presence': {
        const online = new Set(this.state.visitorsOnline);
        if (frame.online) online.add(frame.visitor_id);
        else online.delete(frame.visitor_id);
        this.set({ visitorsOnline: online });
        break;
      }
      case 'page_view':
        this.set({ pages: with_(this.state.pages, frame.visitor_id, { url: frame.url, title: frame.title, viewed_at: frame.viewed_at }) });
        break;
      case 'visitor_updated':
        this.set({ visitorVersions: with_(this.state.visitorVersions, frame.visitor_id, (this.state.visitorVersions.get(frame.visitor_id) ?? 0) + 1) });
        break;
      case 'error':
        if (frame.client_id && !frame.retryable) {
          for (const [id, t] of this.state.transcripts) {
            if (t.pending.some((p) => p.client_id === frame.client_id)) this.setTranscript(id, tx.failPending(t, frame.client_id, frame.message));
          }
        } else if (frame.client_id) {
          // Nothing was stored: the same frame (same client id) again after a pause.
          const clientId = frame.client_id;
          setTimeout(() => {
            for (const t of this.state.transcripts.values()) {
              const pending = t.pending.find((p) => p.client_id === clientId && p.state === 'sending');
              if (pending) this.socket.send(frameOf(pending));
            }
          }, RESEND_AFTER_MS);
        } else {
          this.set({ lastError: { code: frame.code, message: frame.message, at: Date.now() } });
        }
        break;
      default:
        break;
    }
  }

  private stopTyping(id: string): void {
    if (!this.state.typing.has(id)) return;
    const typing = new Map(this.state.typing);
    typing.delete(id);
    this.set({ typing });
  }
}

function frameOf(p: tx.Pending): AgentFrame {
  return p.private
    ? { type: 'note', conversation_id: p.conversation_id, client_id: p.client_id, body: p.body }
    : { type: 'send', conversation_id: p.conversation_id, client_id: p.client_id, body: p.body, attachment_id: p.attachment_id ?? null };
}

function senderName(sender: Sender): string {
  return 'name' in sender ? sender.name : '';
}

let current: ConsoleStore | null = null;

/** The store of the signed-in member (one per tab). */
export function consoleStore(me: string): ConsoleStore {
  if (current?.me !== me) {
    current?.stop();
    current = new ConsoleStore(me);
    current.start();
  }
  return current;
}

export function stopConsoleStore(): void {
  current?.stop();
  current = null;
}

export function useConsole<T>(store: ConsoleStore, select: (state: State) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}
