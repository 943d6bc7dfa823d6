// The chat engine: one visitor session through the edge. It owns the WebSocket (hello/resume,
// reconnect with backoff, a ping watchdog, a new token on 4001), the outbox (messages keep their
// client id across retries, reloads and tabs, so the server stores each once), and the state the
// UI draws. No Preact here: the UI subscribes to `state`.

import type { Identity, KefuConfig } from '../config';
import {
  FATAL_CLOSES,
  MAX_BODY_CHARS,
  MAX_CONTEXT_BYTES,
  MAX_UPLOAD_BYTES,
  type AttachmentRef,
  type JsonValue,
  PROTOCOL,
  type Availability,
  type MessageFrame,
  type Problem,
  type Profile,
  type QueuePlace,
  type ServerFrame,
  type SessionGrant,
  type VisitorFrame,
} from '../protocol';
import { jsonBytes } from './jsapi';
import { newClientId, Storage, type Outgoing } from './storage';

export type Status = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'failed';

export interface ChatState {
  status: Status;
  /** The open conversation's public messages, in `seq` order, each once. */
  messages: MessageFrame[];
  /** Typed but not yet acknowledged, oldest first. */
  outbox: Outgoing[];
  /** The name of the agent typing right now. */
  agentTyping: string | null;
  /** The highest `seq` the team has read. */
  agentReadSeq: number;
  /** The agent who wrote last. */
  agent: string | null;
  /** Agent messages the visitor has not seen. */
  unread: number;
  /** Why the widget cannot chat (a refused site or origin), for people. */
  problem: string | null;
  /** Whether the team is there (from the server's `status`), unknown before the first. */
  agents: Availability | null;
  /** The open conversation's place in the queue while no agent has it. */
  queue: QueuePlace | null;
  /** A conversation the team closed, waiting for the visitor's rating. */
  closed: string | null;
  /** The rating given to `closed`, once the server stored it. */
  rated: number | null;
  /** Whether the visitor filled in the pre-chat form. */
  preChatDone: boolean;
  /** The FAQ bot is answering the open conversation (offer "Talk to a human"). */
  bot: boolean;
  /** Bot answers the visitor already said helped or not. */
  feedback: string[];
  /** The tenant's bot is on: the chat stays open when the team is offline (the bot answers). */
  botOn: boolean;
  /** Closed by business hours: when the team opens next (an ISO instant). */
  opensAt: string | null;
  /** The workspace's conversations for the month are used up: new ones are offline messages. */
  quotaReached: boolean;
}

const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;
const TYPING_SHOWN_MS = 8_000;

export class Chat {
  state: ChatState;
  private readonly store: Storage;
  private readonly listeners = new Set<(state: ChatState) => void>();
  private ws: WebSocket | null = null;
  private welcomed = false;
  private grant: SessionGrant | null = null;
  private lastSeq = 0;
  private attempts = 0;
  private wanted = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private sentTypingAt = 0;
  /** The panel is open and the page visible: agent messages count as seen. */
  private seeing = false;
  /** The host page's context (`Kefu('setContext')`), until the server confirmed it (`saved`). */
  private context: Record<string, unknown> | null = null;
  /** Profile and context frames sent on this connection and not yet confirmed. */
  private unsaved = { profile: 0, context: 0 };

  constructor(
    private readonly config: KefuConfig,
    private readonly identity: () => Identity | null,
    /** Called for each new agent message (sound, title blink, page event). */
    private readonly onAgentMessage: (message: MessageFrame) => void,
    /** Called when the team's availability changes. */
    private readonly onAvailability: (agents: Availability) => void = () => {},
  ) {
    this.store = new Storage('kefu:' + config.site_key);
    let stored = this.store.get();
    if ((stored.outbox || []).some((o) => o.uploading)) {
      // A reload interrupted an upload: the file is gone with the page; say so.
      const outbox = (stored.outbox || []).map((o) => (o.uploading ? { ...o, uploading: false, failed: 'interrupted' } : o));
      stored = this.store.update({ outbox });
    }
    this.state = {
      status: 'idle',
      messages: [],
      outbox: config.preview ? [] : stored.outbox || [],
      agentTyping: null,
      agentReadSeq: 0,
      agent: null,
      unread: 0,
      problem: null,
      agents: null,
      queue: null,
      closed: null,
      rated: null,
      preChatDone: !config.preview && Boolean(stored.pre_chat_done),
      bot: false,
      feedback: [],
      botOn: false,
      opensAt: null,
      quotaReached: false,
    };
    addEventListener('online', () => this.wanted && this.reconnectNow());
    // Another tab wrote to the outbox (or acknowledged from it): follow it.
    addEventListener('storage', (event) => {
      if (event.key === 'kefu:' + config.site_key) this.set({ outbox: this.store.get().outbox || [] });
    });
  }

  subscribe(fn: (state: ChatState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A conversation to pick up without the visitor asking: one seen before, or unsent messages. */
  hasHistory(): boolean {
    const stored = this.store.get();
    return Boolean(stored.conversation_id) || (stored.outbox || []).length > 0;
  }

  /** Connects (if not already) and stays connected. */
  connect(): void {
    if (this.config.preview) {
      this.set({ status: 'online', agents: this.config.preview });
      return;
    }
    this.wanted = true;
    if (!this.ws && this.retryTimer === undefined) void this.open();
  }

  /** A new identity: the next session carries it. */
  reidentify(): void {
    this.grant = null;
    if (this.ws) this.ws.close(1000, 'identity changed');
  }

  send(text: string): string | null {
    const body = text.trim();
    if (!body) return null;
    if ([...body].length > MAX_BODY_CHARS) return 'too_long';
    const item: Outgoing = { client_id: newClientId(), body, at: new Date().toISOString() };
    this.setOutbox([...this.store.get().outbox || [], item]);
    this.sentTypingAt = 0;
    if (this.welcomed) this.frame({ type: 'send', client_id: item.client_id, body });
    this.connect();
    return null;
  }

  /** Sends a refused message again (a new client id: the old one was refused for good). */
  retry(clientId: string): void {
    const outbox = this.store.get().outbox || [];
    const item = outbox.find((o) => o.client_id === clientId);
    if (!item) return;
    if (item.file && !item.attachment_id) return; // the upload itself failed: pick the file again
    this.setOutbox(outbox.filter((o) => o !== item));
    if (!item.file) {
      this.send(item.body);
      return;
    }
    // A refused send of an uploaded file: the upload was not used, so send it anew.
    const again: Outgoing = { client_id: newClientId(), body: item.body, at: new Date().toISOString(), file: true, attachment_id: item.attachment_id };
    this.setOutbox([...(this.store.get().outbox || []), again]);
    if (this.welcomed) this.frame({ type: 'send', client_id: again.client_id, body: again.body, attachment_id: again.attachment_id });
    this.connect();
  }

  /**
   * Uploads a file through the edge, then sends it as a message with its name. The message waits
   * in the outbox (shown as uploading) meanwhile; once uploaded it is sent like any other, with
   * the same client id on every retry. A file the server refuses is marked failed with why.
   */
  async sendFile(file: File, tooBig: string): Promise<void> {
    if (this.config.preview) return; // the editor's preview never talks to the edge
    const item: Outgoing = {
      client_id: newClientId(),
      body: (file.name || 'file').slice(0, 255),
      at: new Date().toISOString(),
      uploading: true,
      file: true,
    };
    this.setOutbox([...(this.store.get().outbox || []), item]);
    const fail = (why: string) =>
      this.setOutbox((this.store.get().outbox || []).map((o) => (o.client_id === item.client_id ? { ...o, uploading: false, failed: why } : o)));
    if (file.size > MAX_UPLOAD_BYTES) return fail(tooBig);
    this.connect();
    try {
      if (!this.grant || this.grant.expires_at * 1000 - Date.now() < 30_000) this.grant = await this.session();
      const url = `${this.config.edge_url}/v1/attachments?name=${encodeURIComponent(item.body)}`;
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.grant.token}`, 'content-type': 'application/octet-stream' },
        body: file,
      });
      if (!response.ok) {
        const problem = (await response.json().catch(() => null)) as Problem | null;
        return fail(problem?.detail || `upload failed (${response.status})`);
      }
      const uploaded = (await response.json()) as AttachmentRef;
      const sent = { ...item, uploading: false, attachment_id: uploaded.id };
      this.setOutbox((this.store.get().outbox || []).map((o) => (o.client_id === item.client_id ? sent : o)));
      if (this.welcomed) this.frame({ type: 'send', client_id: sent.client_id, body: sent.body, attachment_id: uploaded.id });
    } catch {
      fail('network');
    }
  }

  /** Where the visitor's browser fetches an attachment (through the edge, with the token). */
  attachmentUrl(id: string): string | null {
    return this.grant ? `${this.config.edge_url}/v1/attachments/${id}?token=${encodeURIComponent(this.grant.token)}` : null;
  }

  discard(clientId: string): void {
    this.setOutbox((this.store.get().outbox || []).filter((o) => o.client_id !== clientId));
  }

  typing(active: boolean): void {
    if (!this.welcomed) return;
    const now = Date.now();
    if (active && now - this.sentTypingAt < 3000) return;
    this.sentTypingAt = active ? now : 0;
    this.frame({ type: 'typing', typing: active });
  }

  /** The panel opened or closed, or the page's visibility changed. */
  setSeeing(seeing: boolean): void {
    this.seeing = seeing;
    if (seeing) this.markRead();
  }

  /**
   * What the visitor entered in a form: kept (in storage) until a session delivered it, so it
   * reaches the team before or with their first message.
   */
  setProfile(profile: Profile, preChat: boolean): void {
    const clean: Profile = {};
    for (const key of ['name', 'email', 'phone'] as const) {
      const value = profile[key]?.trim();
      if (value) clean[key] = value;
    }
    const fields = Object.entries(profile.fields || {}).filter(([, v]) => v.trim());
    if (fields.length) clean.fields = Object.fromEntries(fields.map(([k, v]) => [k, v.trim()]));
    this.store.update({ profile: clean, ...(preChat ? { pre_chat_done: true } : {}) });
    if (preChat) this.set({ preChatDone: true });
    this.deliver();
    this.connect();
  }

  /** The host page's context; sent now if connected, else with the next session. */
  setContext(context: Record<string, unknown>): void {
    // The server refuses more than 8 KiB; refuse it here, once, rather than on every reconnect.
    if (jsonBytes(context) > MAX_CONTEXT_BYTES) {
      console.warn(`Kefu: setContext takes a JSON object of at most ${MAX_CONTEXT_BYTES} bytes; ignored`);
      return;
    }
    this.context = context;
    this.deliver();
  }

  /** Rates the conversation the team closed. */
  /** The visitor's answer to a bot answer's "Did this help?" (`false` hands off to a person). */
  feedback(messageId: string, helpful: boolean): void {
    if (this.state.feedback.includes(messageId)) return;
    this.set({ feedback: [...this.state.feedback, messageId] });
    this.frame({ type: 'bot_feedback', message_id: messageId, helpful });
  }

  /** "Talk to a human" while the bot answers. */
  human(): void {
    if (!this.state.bot) return;
    this.set({ bot: false });
    this.frame({ type: 'human' });
  }

  rate(rating: number, comment: string): void {
    const conversation = this.state.closed;
    if (!conversation) return;
    const text = comment.trim();
    this.frame({ type: 'rate', conversation_id: conversation, rating, ...(text ? { comment: text.slice(0, 1000) } : {}) });
  }

  /** Sends what waits to be delivered (profile, context); each stays until its `saved` comes
   * back, so a connection lost in between sends it again with the next session. */
  private deliver(): void {
    if (!this.welcomed) return;
    const profile = this.store.get().profile;
    if (profile) {
      this.unsaved.profile += 1;
      this.frame({ type: 'profile', ...profile });
    }
    if (this.context) {
      this.unsaved.context += 1;
      // The page's object goes out as JSON; what JSON cannot carry is dropped by stringify.
      this.frame({ type: 'context', data: this.context as { [key: string]: JsonValue } });
    }
  }

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  private setOutbox(outbox: Outgoing[]): void {
    this.store.update({ outbox });
    this.set({ outbox });
  }

  private frame(frame: VisitorFrame): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private async session(): Promise<SessionGrant> {
    if (this.config.preview) throw new Error('preview: no session');
    const stored = this.store.get();
    const identity = this.identity();
    const body: Record<string, unknown> = { site_key: this.config.site_key };
    if (stored.visitor_id && stored.visitor_proof) {
      body.visitor_id = stored.visitor_id;
      body.visitor_proof = stored.visitor_proof;
    }
    if (this.config.link) body.link = this.config.link;
    if (identity) {
      const user: Record<string, unknown> = { id: String(identity.id), hash: String(identity.hash) };
      // The level is signed with the id (docs/widget.md): it travels exactly as given.
      if (typeof identity.vip === 'number') user.vip = identity.vip;
      body.user = user;
    }
    const response = await fetch(this.config.edge_url + '/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = (await response.json().catch(() => null)) as Problem | null;
      throw new SessionRefused(response.status, problem);
    }
    const grant = (await response.json()) as SessionGrant;
    if (grant.visitor_id !== stored.visitor_id) {
      this.store.update({ conversation_id: undefined, read_seq: 0 });
      if (stored.visitor_id) {
        // Another visitor than before (another customer signed in on this browser, or the one
        // before signed out): nothing of the previous one's chat stays on screen, and what they
        // typed but had not sent is not sent as the new one.
        this.lastSeq = 0;
        this.set({ messages: [], agentReadSeq: 0 });
        this.setOutbox([]);
      }
    }
    this.store.update({ visitor_id: grant.visitor_id, visitor_proof: grant.visitor_proof });
    return grant;
  }

  private async open(): Promise<void> {
    this.set({ status: this.attempts ? 'reconnecting' : 'connecting' });
    try {
      if (!this.grant || this.grant.expires_at * 1000 - Date.now() < 30_000) this.grant = await this.session();
    } catch (error) {
      // Refusals that retrying cannot fix: say why and stop.
      if (error instanceof SessionRefused && error.status !== 429 && error.status < 500) {
        this.set({ status: 'failed', problem: error.problem?.detail || 'refused' });
        return;
      }
      this.scheduleRetry();
      return;
    }
    const ws = new WebSocket(this.grant.ws_url + '?token=' + encodeURIComponent(this.grant.token));
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = () => this.frame({ type: 'hello', protocol: PROTOCOL, last_seq: this.lastSeq });
    ws.onmessage = (event) => {
      this.heard();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      this.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      clearInterval(this.pingTimer);
      clearTimeout(this.pongTimer);
      if (event.code === 4001) this.grant = null;
      if (FATAL_CLOSES.includes(event.code)) {
        this.set({ status: 'failed', problem: `closed ${event.code}` });
        return;
      }
      if (this.wanted) this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    this.set({ status: 'reconnecting', agentTyping: null });
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delay);
  }

  private reconnectNow(): void {
    if (this.ws) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.open();
  }

  /** Any frame proves the socket alive; silence after a ping means it died without a close. */
  private heard(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private startWatchdog(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      this.frame({ type: 'ping' });
      clearTimeout(this.pongTimer);
      const ws = this.ws;
      this.pongTimer = setTimeout(() => ws && ws.close(3000, 'no pong'), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  private handle(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome': {
        const stored = this.store.get();
        const conversation = frame.conversation_id || undefined;
        if (conversation && this.lastSeq > 0 && stored.conversation_id && conversation !== stored.conversation_id) {
          // A different conversation than the one held: start it from the beginning.
          this.lastSeq = 0;
          this.store.update({ conversation_id: conversation, read_seq: 0 });
          this.set({ messages: [], agentReadSeq: 0 });
          this.ws?.close(1000, 'new conversation');
          return;
        }
        if (conversation !== stored.conversation_id) {
          // Another conversation than the one remembered (or none): its reads start over.
          this.store.update({ conversation_id: conversation, read_seq: 0 });
        }
        this.welcomed = true;
        this.unsaved = { profile: 0, context: 0 };
        this.attempts = 0;
        this.set({ status: 'online', problem: null, bot: !!frame.bot });
        this.startWatchdog();
        this.deliver();
        this.frame({ type: 'page_view', url: location.href.slice(0, 2048), title: document.title.slice(0, 500), referrer: document.referrer.slice(0, 2048) || undefined });
        for (const item of stored.outbox || []) {
          if (item.failed || item.uploading) continue;
          this.frame({ type: 'send', client_id: item.client_id, body: item.body, ...(item.attachment_id ? { attachment_id: item.attachment_id } : {}) });
        }
        if (this.seeing) this.markRead();
        break;
      }
      case 'message':
        this.receive(frame);
        break;
      case 'ack':
        this.acknowledge(frame.client_id);
        break;
      case 'typing':
        if (frame.sender.kind !== 'agent') break;
        clearTimeout(this.typingTimer);
        this.set({ agentTyping: frame.typing ? frame.sender.name : null });
        if (frame.typing) this.typingTimer = setTimeout(() => this.set({ agentTyping: null }), TYPING_SHOWN_MS);
        break;
      case 'read':
        if (frame.reader.kind === 'agent' && frame.seq > this.state.agentReadSeq) this.set({ agentReadSeq: frame.seq });
        break;
      case 'error':
        if (frame.client_id && !frame.retryable) {
          const outbox = (this.store.get().outbox || []).map((o) =>
            o.client_id === frame.client_id ? { ...o, failed: frame.code } : o,
          );
          this.setOutbox(outbox);
        } else if (frame.client_id) {
          // Retryable (the database is briefly away): the same client id again shortly.
          const id = frame.client_id;
          setTimeout(() => {
            const item = (this.store.get().outbox || []).find((o) => o.client_id === id);
            if (item && this.welcomed) {
              this.frame({ type: 'send', client_id: id, body: item.body, ...(item.attachment_id ? { attachment_id: item.attachment_id } : {}) });
            }
          }, 2000);
        }
        break;
      case 'pong':
        break;
      case 'saved':
        // Frames are handled in order: once every one sent is confirmed, the latest value is saved.
        this.unsaved[frame.what] = Math.max(0, this.unsaved[frame.what] - 1);
        if (this.unsaved[frame.what] === 0) {
          if (frame.what === 'profile') this.store.update({ profile: undefined });
          else this.context = null;
        }
        break;
      case 'status': {
        const changed = frame.agents !== this.state.agents;
        this.set({
          agents: frame.agents,
          queue: frame.queue || null,
          botOn: !!frame.bot,
          opensAt: frame.opens_at || null,
          quotaReached: !!frame.quota_reached,
        });
        if (changed) this.onAvailability(frame.agents);
        break;
      }
      case 'conversation_updated':
        if (frame.status === 'closed') {
          if (this.store.get().conversation_id === frame.conversation_id) {
            // Done: the visitor's next message opens a new conversation, numbered from 1.
            this.store.update({ conversation_id: undefined, read_seq: 0 });
            this.lastSeq = 0;
          }
          this.set({ closed: frame.conversation_id, rated: null, queue: null, agentTyping: null });
        } else if (frame.assignee) {
          this.set({ queue: null, bot: false });
        } else if (this.store.get().conversation_id === frame.conversation_id) {
          this.set({ bot: frame.bot });
        }
        break;
      case 'rated':
        if (frame.conversation_id === this.state.closed) this.set({ rated: frame.rating });
        break;
    }
  }

  private receive(message: MessageFrame): void {
    if (message.private) return;
    const messages = this.state.messages;
    if (messages.some((m) => m.seq === message.seq && m.conversation_id === message.conversation_id)) return;
    let stored = this.store.get();
    if (stored.conversation_id !== message.conversation_id) {
      stored = this.store.update({ conversation_id: message.conversation_id, read_seq: 0 });
    }
    if (messages.length > 0 && messages[0].conversation_id !== message.conversation_id) this.lastSeq = 0;
    const next = messages.filter((m) => m.conversation_id === message.conversation_id);
    if (this.state.closed && this.state.closed !== message.conversation_id) this.set({ closed: null, rated: null });
    let i = next.length;
    while (i > 0 && next[i - 1].seq > message.seq) i--;
    next.splice(i, 0, message);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    const patch: Partial<ChatState> = { messages: next };
    if (message.sender.kind === 'agent') {
      patch.agent = message.sender.name;
      patch.agentTyping = null;
      patch.bot = false;
    }
    if (message.sender.kind === 'bot') patch.bot = !message.bot?.handoff;
    this.set(patch);
    if (message.client_id) this.acknowledge(message.client_id);
    if (message.sender.kind === 'agent' && message.seq > (stored.read_seq || 0)) {
      if (this.seeing) this.markRead();
      else {
        this.countUnread();
        this.onAgentMessage(message);
      }
    }
  }

  private acknowledge(clientId: string): void {
    const outbox = this.store.get().outbox || [];
    if (outbox.some((o) => o.client_id === clientId)) this.setOutbox(outbox.filter((o) => o.client_id !== clientId));
  }

  private countUnread(): void {
    const readSeq = this.store.get().read_seq || 0;
    const unread = this.state.messages.filter((m) => m.sender.kind === 'agent' && m.seq > readSeq).length;
    if (unread !== this.state.unread) this.set({ unread });
  }

  private markRead(): void {
    const stored = this.store.get();
    if (this.lastSeq > (stored.read_seq || 0)) {
      this.store.update({ read_seq: this.lastSeq });
      this.frame({ type: 'read', seq: this.lastSeq });
    }
    this.countUnread();
  }
}

class SessionRefused extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(problem?.detail || `session refused (${status})`);
  }
}
