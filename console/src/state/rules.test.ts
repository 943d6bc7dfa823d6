import { beforeAll, describe, expect, it } from 'vitest';
import { loadAreas, loadLang, translate } from '../i18n';
import { shortcutFor } from '../pages/inbox/shortcuts';
import { cannedQuery } from '../pages/inbox/canned';
import { backoffMs, JOIN_MANY_MAX, resumeFrames } from '../realtime/socket';
import { effectiveStatus } from './presence';

// The packs are loaded on demand in the console (i18n/packs.ts).
beforeAll(async () => {
  await Promise.all([loadLang('en'), loadLang('zh-CN')]);
  await loadAreas(['admin']);
});

describe('presence', () => {
  it('goes away after inactivity only when online was chosen', () => {
    expect(effectiveStatus('online', 1000, 60_000)).toBe('online');
    expect(effectiveStatus('online', 60_000, 60_000)).toBe('away');
    expect(effectiveStatus('busy', 10 * 60_000, 60_000)).toBe('busy');
    expect(effectiveStatus('offline', 10 * 60_000, 60_000)).toBe('offline');
  });
});

describe('shortcuts', () => {
  const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods });
  it('map keys to actions, never while typing or with modifiers', () => {
    expect(shortcutFor(key('j'), false)).toBe('next');
    expect(shortcutFor(key('?'), false)).toBe('help');
    expect(shortcutFor(key('j'), true)).toBeUndefined();
    expect(shortcutFor(key('c', { ctrlKey: true }), false)).toBeUndefined();
    expect(shortcutFor(key('z'), false)).toBeUndefined();
  });
});

describe('canned responses', () => {
  it('are offered while the reply is a lone /shortcut', () => {
    expect(cannedQuery('/')).toBe('');
    expect(cannedQuery('/ref')).toBe('ref');
    expect(cannedQuery('/退款')).toBe('退款');
    expect(cannedQuery('hello /ref')).toBeNull();
    expect(cannedQuery('/ref and more')).toBeNull();
  });
});

describe('reconnect backoff', () => {
  it('grows, is capped at 30 s and is jittered', () => {
    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(0, () => 1)).toBe(500);
    expect(backoffMs(3, () => 1)).toBe(4000);
    expect(backoffMs(20, () => 1)).toBe(30_000);
  });
});

describe('resume', () => {
  it('re-joins every followed conversation in join_many frames of at most 200', () => {
    const followed: Array<[string, number]> = Array.from({ length: 450 }, (_, i) => [`conv_${i}`, i]);
    const frames = resumeFrames(followed);
    expect(frames.map((f) => (f.type === 'join_many' ? f.conversations.length : 0))).toEqual([200, 200, 50]);
    expect(frames[0]).toMatchObject({ type: 'join_many' });
    expect(frames.flatMap((f) => (f.type === 'join_many' ? f.conversations : []))[1]).toEqual({ conversation_id: 'conv_1', last_seq: 1 });
    expect(JOIN_MANY_MAX).toBe(200);
    expect(resumeFrames([])).toEqual([]);
  });
});

describe('languages', () => {
  it('fills placeholders', () => {
    expect(translate('en', 'members.invited', { email: 'a@b.cn' })).toBe('Invitation sent to a@b.cn.');
    expect(translate('zh-CN', 'conversation.agentTyping', { name: '小王' })).toBe('小王 正在输入……');
  });
});
