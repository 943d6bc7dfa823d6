// Unit tests of the JS API's pure parts (vitest): context shaping, the composer's prefill and the
// `status` event's value. The browser scenarios (tests/browser.test.mjs) cover them end to end.

import { describe, expect, test } from 'vitest';
import { MAX_BODY_CHARS, MAX_CONTEXT_BYTES } from '../protocol';
import { contextOf, jsonBytes, prefilled, teamStatus } from './jsapi';

describe('contextOf', () => {
  test('an object goes as it is', () => {
    const context = { order: 'A-1001', nested: { ok: true } };
    expect(contextOf(context)).toBe(context);
  });

  test('a string becomes a note', () => {
    expect(contextOf('Error: payment declined')).toEqual({ note: 'Error: payment declined' });
  });

  test('a long string is shortened to fit the limit, whole characters only', () => {
    for (const unit of ['x', '错', '😀', '\u0001']) {
      const context = contextOf(unit.repeat(10_000));
      expect(context).not.toBeNull();
      const note = String(context?.note);
      expect(jsonBytes(context)).toBeLessThanOrEqual(MAX_CONTEXT_BYTES);
      expect(jsonBytes(context)).toBeGreaterThan(MAX_CONTEXT_BYTES * 0.8);
      expect(note.endsWith('…')).toBe(true);
      expect(() => encodeURIComponent(note)).not.toThrow(); // no lone surrogate
    }
  });

  test('a string that fits is not shortened', () => {
    const text = 'y'.repeat(MAX_CONTEXT_BYTES - '{"note":""}'.length);
    expect(contextOf(text)).toEqual({ note: text });
  });

  test('anything else is nothing', () => {
    for (const value of [null, undefined, 42, true, ['a'], () => 1]) expect(contextOf(value)).toBeNull();
  });
});

describe('jsonBytes', () => {
  test('counts UTF-8 bytes of the JSON', () => {
    expect(jsonBytes({ a: '错' })).toBe('{"a":""}'.length + 3);
  });

  test('what JSON cannot carry is too big', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(jsonBytes(cycle)).toBe(Infinity);
  });
});

describe('prefilled', () => {
  test('fills an empty composer', () => {
    expect(prefilled('', null, 'My order is late')).toBe('My order is late');
    expect(prefilled('  \n', null, 'My order is late')).toBe('My order is late');
  });

  test('the same call again changes nothing', () => {
    const once = prefilled('', null, 'Hi');
    expect(prefilled(once, once, 'Hi')).toBe('Hi');
  });

  test('a newer message replaces the previous one the visitor left as it was', () => {
    expect(prefilled('First error', 'First error', 'Second error')).toBe('Second error');
  });

  test("never overwrites what the visitor typed", () => {
    expect(prefilled('I typed this', null, 'Prefill')).toBe('I typed this');
    expect(prefilled('First error, and more', 'First error', 'Second error')).toBe('First error, and more');
  });

  test('at most a message’s length, whole characters', () => {
    const text = prefilled('', null, '😀'.repeat(MAX_BODY_CHARS + 10));
    expect(Array.from(text)).toHaveLength(MAX_BODY_CHARS);
    expect(() => encodeURIComponent(text)).not.toThrow(); // no lone surrogate
  });
});

describe('teamStatus', () => {
  test('nothing before the server said', () => {
    expect(teamStatus({ agents: null, opensAt: null, botOn: false })).toBeNull();
  });

  test('what the status frame said', () => {
    expect(teamStatus({ agents: 'busy', opensAt: null, botOn: false })).toEqual({ team: 'busy', opens_at: null, bot: false });
    expect(teamStatus({ agents: 'offline', opensAt: '2026-12-07T01:00:00Z', botOn: true })).toEqual({
      team: 'offline',
      opens_at: '2026-12-07T01:00:00Z',
      bot: true,
    });
  });
});
