import { describe, expect, it } from 'vitest';
import type { MessageView } from '../api/protocol';
import { activityAt, applyMessage, applyUpdate, countViews, listView, markRead, mergeListed, neighbour, type InboxItem } from './inbox';

const ME = 'usr_me';
const OTHER = 'usr_other';

function item(id: string, patch: Partial<InboxItem> = {}): InboxItem {
  return {
    conversation_id: id,
    visitor_id: `vis_${id}`,
    status: 'open',
    assignee: null,
    last_seq: 1,
    updated_at: '2026-11-22T10:00:00.000Z',
    unread: 0,
    tags: [],
    participants: [],
    bot: false,
    ...patch,
  };
}

function message(conversation_id: string, seq: number, patch: Partial<MessageView> = {}): MessageView {
  return {
    conversation_id,
    message_id: `msg_${seq}`,
    seq,
    sender: { kind: 'visitor', id: 'vis_1' },
    private: false,
    body: `hello ${seq}`,
    client_id: `c${seq}`,
    created_at: `2026-11-22T10:0${seq}:00.000Z`,
    ...patch,
  };
}

const items = mergeListed(new Map(), [
  item('a', { updated_at: '2026-11-22T10:00:01.000Z' }),
  item('b', { assignee: ME, unread: 2, updated_at: '2026-11-22T10:00:03.000Z' }),
  item('c', { assignee: OTHER, updated_at: '2026-11-22T10:00:02.000Z' }),
  item('d', { status: 'closed', assignee: ME }),
]);

describe('views', () => {
  it('put each conversation in the views it belongs to, newest activity first', () => {
    expect(listView(items, 'unassigned', ME).map((i) => i.conversation_id)).toEqual(['a']);
    expect(listView(items, 'mine', ME).map((i) => i.conversation_id)).toEqual(['b']);
    expect(listView(items, 'open', ME).map((i) => i.conversation_id)).toEqual(['b', 'c', 'a']);
    expect(listView(items, 'closed', ME).map((i) => i.conversation_id)).toEqual(['d']);
  });

  it('count conversations and unread ones per view', () => {
    const counts = countViews(items, ME);
    expect(counts.unassigned).toEqual({ total: 1, unread: 0 });
    expect(counts.mine).toEqual({ total: 1, unread: 1 });
    expect(counts.open).toEqual({ total: 3, unread: 1 });
    expect(counts.closed).toEqual({ total: 1, unread: 0 });
  });

  it('filter by agent and by text in name, email or preview', () => {
    expect(listView(items, 'open', ME, { agent: OTHER }).map((i) => i.conversation_id)).toEqual(['c']);
    const named = mergeListed(items, [item('e', { visitor_name: '张伟', last_message: { body: '退款', sender_kind: 'visitor', created_at: '' } })]);
    expect(listView(named, 'open', ME, { text: '张' }).map((i) => i.conversation_id)).toEqual(['e']);
    expect(listView(named, 'open', ME, { text: '退款' }).map((i) => i.conversation_id)).toEqual(['e']);
    expect(listView(named, 'open', ME, { text: 'nobody' })).toEqual([]);
  });

  it('count a conversation the member was invited into as theirs', () => {
    const invited = mergeListed(items, [item('p', { assignee: OTHER, participants: [ME] })]);
    expect(listView(invited, 'mine', ME).map((i) => i.conversation_id)).toEqual(['b', 'p']);
  });

  it('filter by team and by tag', () => {
    const tagged = mergeListed(items, [item('t', { team_id: 'team_sales', tags: ['vip', '退款'] })]);
    expect(listView(tagged, 'open', ME, { team: 'team_sales' }).map((i) => i.conversation_id)).toEqual(['t']);
    expect(listView(tagged, 'open', ME, { tag: '退款' }).map((i) => i.conversation_id)).toEqual(['t']);
    expect(listView(tagged, 'open', ME, { tag: 'vip', team: 'team_other' })).toEqual([]);
  });
});

describe('live frames', () => {
  it('move a claimed conversation from the queue to mine at once', () => {
    const next = applyUpdate(items, { ...item('a'), assignee: ME, updated_at: '2026-11-22T10:00:09.000Z' });
    expect(listView(next, 'unassigned', ME)).toEqual([]);
    expect(listView(next, 'mine', ME)[0]?.conversation_id).toBe('a');
  });

  it('ignore an update older than what is held', () => {
    const next = applyUpdate(items, { ...item('b'), status: 'closed', updated_at: '2026-11-22T09:00:00.000Z' });
    expect(next.get('b')?.status).toBe('open');
  });

  it('add a new conversation and keep unread counts from the list', () => {
    const next = applyUpdate(items, { ...item('new'), updated_at: '2026-11-22T11:00:00.000Z' });
    expect(listView(next, 'unassigned', ME)[0]?.conversation_id).toBe('new');
    expect(applyUpdate(items, { ...item('b'), updated_at: '2026-11-22T11:00:00.000Z' }).get('b')?.unread).toBe(2);
  });

  it('count a visitor message as unread unless the member is reading, never a note or a replay', () => {
    const one = applyMessage(items, message('b', 2), false);
    expect(one.get('b')?.unread).toBe(3);
    expect(one.get('b')?.last_message?.body).toBe('hello 2');
    expect(applyMessage(one, message('b', 2), false).get('b')?.unread).toBe(3);
    expect(applyMessage(items, message('b', 2), true).get('b')?.unread).toBe(2);
    const note = applyMessage(items, message('b', 2, { private: true, sender: { kind: 'agent', id: ME, name: 'Me' } }), false);
    expect(note.get('b')?.unread).toBe(2);
    expect(note.get('b')?.last_message).toBeUndefined();
  });

  it('order by the newest message seen live, though the server moves updated_at in steps', () => {
    const live = applyMessage(items, message('a', 2, { created_at: '2026-11-22T10:30:00.000Z' }), false);
    expect(listView(live, 'open', ME).map((i) => i.conversation_id)[0]).toBe('a');
    // The list read that follows carries the same updated_at (moved less than 5 s ago) and the
    // new unread count: it is taken, and the live activity time stays.
    const listed = mergeListed(live, [item('a', { last_seq: 2, unread: 1, updated_at: '2026-11-22T10:00:01.000Z' })]);
    expect(listed.get('a')?.unread).toBe(1);
    expect(activityAt(listed.get('a') as InboxItem)).toBe('2026-11-22T10:30:00.000Z');
    expect(listView(listed, 'open', ME).map((i) => i.conversation_id)[0]).toBe('a');
  });

  it('a listed item or summary behind on last_seq is stale', () => {
    const live = applyMessage(items, message('a', 2), false);
    expect(mergeListed(live, [item('a', { unread: 0, updated_at: '2026-11-22T10:00:01.000Z' })]).get('a')?.unread).toBe(1);
    expect(applyUpdate(live, { ...item('a'), status: 'closed', updated_at: '2026-11-22T10:00:01.000Z' }).get('a')?.status).toBe('open');
  });

  it('clear unread when the team reads', () => {
    expect(markRead(items, 'b').get('b')?.unread).toBe(0);
  });

  it('a fresher listed item replaces a stale one, a staler one does not', () => {
    const fresher = mergeListed(items, [item('a', { unread: 4, updated_at: '2026-11-22T12:00:00.000Z' })]);
    expect(fresher.get('a')?.unread).toBe(4);
    const staler = mergeListed(items, [item('b', { unread: 0, updated_at: '2026-11-22T09:00:00.000Z' })]);
    expect(staler.get('b')?.unread).toBe(2);
  });
});

describe('keyboard navigation', () => {
  const list = listView(items, 'open', ME);
  it('steps through the list and stops at its ends', () => {
    expect(neighbour(list, undefined, 1)).toBe('b');
    expect(neighbour(list, 'b', 1)).toBe('c');
    expect(neighbour(list, 'a', 1)).toBe('a');
    expect(neighbour(list, 'b', -1)).toBe('b');
    expect(neighbour([], 'b', 1)).toBeUndefined();
  });
});
