// A conversation's transcript as the console holds it (pure logic, unit-tested): messages ordered
// by sequence number without duplicates, whatever order REST pages, replays and live frames
// arrive in, plus the member's own messages still waiting for their `ack`.
import type { MessageView } from '../api/protocol';

export interface Pending {
  client_id: string;
  conversation_id: string;
  body: string;
  private: boolean;
  attachment_id?: string | undefined;
  /** `sending` until acked; `failed` after a refusal that a retry will not fix. */
  state: 'sending' | 'failed';
  error?: string | undefined;
}

export interface Transcript {
  /** Ordered by `seq`, each once. */
  messages: MessageView[];
  /** Whether older messages exist before `messages[0]` (from the REST page). */
  hasOlder: boolean;
  /** Messages sent by this console without an `ack` yet, in the order they were written. */
  pending: Pending[];
}

export const EMPTY: Transcript = { messages: [], hasOlder: false, pending: [] };

/** The highest sequence number held (0 when none): what `join`'s `last_seq` resumes from. */
export function lastSeq(t: Transcript): number {
  return t.messages.at(-1)?.seq ?? 0;
}

/** Adds messages from any source; known `seq`s are ignored, order is by `seq`. */
export function addMessages(t: Transcript, incoming: readonly MessageView[]): Transcript {
  if (incoming.length === 0) return t;
  const bySeq = new Map(t.messages.map((m) => [m.seq, m]));
  let changed = false;
  for (const m of incoming) {
    if (!bySeq.has(m.seq)) {
      bySeq.set(m.seq, m);
      changed = true;
    }
  }
  const delivered = new Set(incoming.map((m) => m.client_id));
  const pending = t.pending.filter((p) => !delivered.has(p.client_id));
  if (!changed && pending.length === t.pending.length) return t;
  const messages = changed ? [...bySeq.values()].sort((a, b) => a.seq - b.seq) : t.messages;
  return { ...t, messages, pending };
}

/** Adds an older REST page (scrolling back). */
export function addOlder(t: Transcript, page: readonly MessageView[], hasMore: boolean): Transcript {
  return { ...addMessages(t, page), hasOlder: hasMore };
}

export function addPending(t: Transcript, pending: Pending): Transcript {
  return { ...t, pending: [...t.pending, pending] };
}

/** A refusal that will not heal: the pending message stays visible as failed, with the reason. */
export function failPending(t: Transcript, clientId: string, error: string): Transcript {
  return {
    ...t,
    pending: t.pending.map((p) => (p.client_id === clientId ? { ...p, state: 'failed', error } : p)),
  };
}

export function dropPending(t: Transcript, clientId: string): Transcript {
  return { ...t, pending: t.pending.filter((p) => p.client_id !== clientId) };
}

/** The newest visitor message's `seq`: what a `read` frame acknowledges. */
export function lastVisitorSeq(t: Transcript): number {
  for (let i = t.messages.length - 1; i >= 0; i -= 1) {
    const m = t.messages[i];
    if (m && m.sender.kind === 'visitor') return m.seq;
  }
  return 0;
}
