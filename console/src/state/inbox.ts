// The inbox's pure state logic (F14): which conversations each view shows, in what order, their
// unread counts, and how live frames change them. No I/O here, so vitest covers it.
import type { ConversationSummary, MessageView } from '../api/protocol';
import type { components } from '../api/schema';

export type View = 'unassigned' | 'mine' | 'open' | 'closed';
export const VIEWS: readonly View[] = ['unassigned', 'mine', 'open', 'closed'];

/** A conversation as the inbox shows it: `GET /api/v1/conversations` items, kept live. */
export type InboxItem = ConversationSummary & Omit<components['schemas']['ListedConversation'], keyof ConversationSummary> & {
  /** Client-side: the newest message time seen live (the server's `updated_at` moves in steps). */
  active_at?: string;
};

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/**
 * When the conversation last saw activity: its `updated_at`, or a later message. The server
 * moves `updated_at` on a message only when it is more than 5 seconds old (docs/decisions.md),
 * so live messages keep the exact time here.
 */
export function activityAt(item: InboxItem): string {
  return later(later(item.updated_at, item.active_at), item.last_message?.created_at || undefined) ?? item.updated_at;
}

/**
 * Whether `incoming` (a listed item or a `conversation_updated` summary) is not older than what
 * is held: `updated_at` and `last_seq` each only ever grow on the server.
 */
function notOlder(held: InboxItem, incoming: { updated_at: string; last_seq: number }): boolean {
  return held.updated_at <= incoming.updated_at && held.last_seq <= incoming.last_seq;
}

export interface Filters {
  /** A member's `usr_…`: only conversations assigned to them. */
  agent?: string | undefined;
  /** A team's `team_…`: only conversations in its queue or handled for it. */
  team?: string | undefined;
  /** Only conversations with this tag. */
  tag?: string | undefined;
  /** Substring of the visitor's name or email, or of the latest message. */
  text?: string | undefined;
}

export type Items = ReadonlyMap<string, InboxItem>;

/** Whether `item` belongs in `view` for the member `me`. */
export function inView(item: InboxItem, view: View, me: string): boolean {
  switch (view) {
    case 'unassigned':
      return item.status === 'open' && !item.assignee;
    case 'mine':
      return item.status === 'open' && isMine(item, me);
    case 'open':
      return item.status === 'open';
    case 'closed':
      return item.status === 'closed';
  }
}

/** Assigned to the member, or the member was invited in. */
export function isMine(item: InboxItem, me: string): boolean {
  return item.assignee === me || (item.participants ?? []).includes(me);
}

function matches(item: InboxItem, filters: Filters): boolean {
  if (filters.agent && item.assignee !== filters.agent) return false;
  if (filters.team && item.team_id !== filters.team) return false;
  if (filters.tag && !item.tags.includes(filters.tag)) return false;
  const text = filters.text?.trim().toLowerCase();
  if (text) {
    const haystack = [item.visitor_name, item.visitor_email, item.last_message?.body, item.conversation_id]
      .filter(Boolean)
      .join('\n')
      .toLowerCase();
    if (!haystack.includes(text)) return false;
  }
  return true;
}

/** Newest activity first; ties by id so the order is stable. */
export function compareItems(a: InboxItem, b: InboxItem): number {
  const [at, bt] = [activityAt(a), activityAt(b)];
  if (at !== bt) return at < bt ? 1 : -1;
  return a.conversation_id < b.conversation_id ? 1 : a.conversation_id > b.conversation_id ? -1 : 0;
}

/** The conversations `view` lists, filtered and ordered. */
export function listView(items: Items, view: View, me: string, filters: Filters = {}): InboxItem[] {
  return [...items.values()].filter((i) => inView(i, view, me) && matches(i, filters)).sort(compareItems);
}

export interface ViewCount {
  /** Conversations in the view. */
  total: number;
  /** Of those, how many have unread visitor messages. */
  unread: number;
}

/** Per view: how many conversations, and how many of them are unread. */
export function countViews(items: Items, me: string): Record<View, ViewCount> {
  const counts = Object.fromEntries(VIEWS.map((v) => [v, { total: 0, unread: 0 }])) as Record<View, ViewCount>;
  for (const item of items.values()) {
    for (const view of VIEWS) {
      if (!inView(item, view, me)) continue;
      counts[view].total += 1;
      if (item.unread > 0) counts[view].unread += 1;
    }
  }
  return counts;
}

/** Merges pages from the REST list (an item not older than what is held replaces it). */
export function mergeListed(items: Items, listed: readonly InboxItem[]): Map<string, InboxItem> {
  const next = new Map(items);
  for (const item of listed) {
    const held = next.get(item.conversation_id);
    if (!held) next.set(item.conversation_id, item);
    else if (notOlder(held, item)) next.set(item.conversation_id, { ...item, active_at: later(held.active_at, item.active_at) });
  }
  return next;
}

/**
 * Applies a `conversation_updated` frame (sent on every new message, claim and close). Its
 * status and assignee take effect at once; unread counts and previews come from the next list
 * read, which the store schedules after updates.
 */
export function applyUpdate(items: Items, summary: ConversationSummary): Map<string, InboxItem> {
  const next = new Map(items);
  const held = next.get(summary.conversation_id);
  if (held && !notOlder(held, summary)) return next;
  next.set(summary.conversation_id, { ...held, ...summary, unread: held?.unread ?? 0 });
  return next;
}

/**
 * Applies a `message` frame: the preview and activity time move; a visitor message counts as
 * unread unless the member is looking at that conversation (`reading`).
 */
export function applyMessage(items: Items, message: MessageView, reading: boolean): Map<string, InboxItem> {
  const held = items.get(message.conversation_id);
  if (!held) return new Map(items);
  const next = new Map(items);
  const fresher = message.seq > held.last_seq;
  const item: InboxItem = {
    ...held,
    last_seq: Math.max(held.last_seq, message.seq),
    active_at: later(held.active_at, message.created_at),
  };
  if (!message.private) {
    item.last_message = { body: message.body, sender_kind: message.sender.kind, created_at: message.created_at };
    if (message.sender.kind === 'visitor' && fresher && !reading) item.unread = held.unread + 1;
  }
  next.set(message.conversation_id, item);
  return next;
}

/** The team read the conversation (this member or a colleague, from a `read` frame). */
export function markRead(items: Items, conversationId: string): Map<string, InboxItem> {
  const held = items.get(conversationId);
  if (!held || held.unread === 0) return new Map(items);
  const next = new Map(items);
  next.set(conversationId, { ...held, unread: 0 });
  return next;
}

/** The conversation after `current` in `list` (`step` = 1) or before it (-1), wrapping at neither end. */
export function neighbour(list: readonly InboxItem[], current: string | undefined, step: 1 | -1): string | undefined {
  if (list.length === 0) return undefined;
  const index = list.findIndex((i) => i.conversation_id === current);
  if (index < 0) return list[0]?.conversation_id;
  return list[Math.min(list.length - 1, Math.max(0, index + step))]?.conversation_id;
}
