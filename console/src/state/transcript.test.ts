import { describe, expect, it } from 'vitest';
import type { MessageView } from '../api/protocol';
import { addMessages, addOlder, addPending, EMPTY, failPending, lastSeq, lastVisitorSeq } from './transcript';

function m(seq: number, patch: Partial<MessageView> = {}): MessageView {
  return {
    conversation_id: 'conv_1',
    message_id: `msg_${seq}`,
    seq,
    sender: { kind: 'visitor', id: 'vis_1' },
    private: false,
    body: `m${seq}`,
    client_id: `c${seq}`,
    created_at: '2026-11-22T10:00:00.000Z',
    ...patch,
  };
}

describe('transcript', () => {
  it('orders by seq and keeps each message once whatever the arrival order', () => {
    let t = addMessages(EMPTY, [m(3), m(1)]);
    t = addMessages(t, [m(2), m(3)]);
    t = addOlder(t, [m(1)], false);
    expect(t.messages.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(lastSeq(t)).toBe(3);
  });

  it('returns the same object when nothing changed (no re-render)', () => {
    const t = addMessages(EMPTY, [m(1)]);
    expect(addMessages(t, [m(1)])).toBe(t);
  });

  it('resolves a pending message when the stored one arrives with its client id', () => {
    let t = addPending(EMPTY, { client_id: 'mine', conversation_id: 'conv_1', body: 'hi', private: false, state: 'sending' });
    expect(t.pending).toHaveLength(1);
    t = addMessages(t, [m(1, { client_id: 'mine', sender: { kind: 'agent', id: 'usr_1', name: 'A' } })]);
    expect(t.pending).toHaveLength(0);
    expect(t.messages).toHaveLength(1);
  });

  it('keeps a refused message visible as failed', () => {
    const t = failPending(addPending(EMPTY, { client_id: 'x', conversation_id: 'conv_1', body: 'hi', private: true, state: 'sending' }), 'x', 'closed');
    expect(t.pending[0]).toMatchObject({ state: 'failed', error: 'closed' });
  });

  it('reads up to the newest visitor message', () => {
    const t = addMessages(EMPTY, [m(1), m(2, { sender: { kind: 'agent', id: 'usr_1', name: 'A' } })]);
    expect(lastVisitorSeq(t)).toBe(1);
    expect(lastVisitorSeq(EMPTY)).toBe(0);
  });

  it('remembers whether older pages exist', () => {
    expect(addOlder(EMPTY, [m(5)], true).hasOlder).toBe(true);
  });
});
