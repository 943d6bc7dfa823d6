// The pure parts of the page's JS API that live in the chat UI (the loader stays small): the
// context a page gives (`setContext`, `openChat`) shaped to what the server takes, the message
// `openChat` puts in the composer, and the `status` event from the chat's state.

import type { TeamStatus } from '../config';
import { MAX_BODY_CHARS, MAX_CONTEXT_BYTES } from '../protocol';
import type { ChatState } from './chat';

/** The size of `value` as JSON in UTF-8, as the server measures it; Infinity if not JSON (cycles). */
export function jsonBytes(value: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(value)).length;
  } catch {
    return Infinity;
  }
}

/**
 * The context frame's object for what a page gave: an object as it is (the chat refuses one over
 * the limit), a string as `{ note }` shortened to fit the limit (an error message with a long
 * stack still reaches the team), anything else nothing.
 */
export function contextOf(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') {
    if (jsonBytes({ note: value }) <= MAX_CONTEXT_BYTES) return { note: value };
    // By code points, so no emoji is cut in half (the server refuses a lone surrogate).
    let chars = Array.from(value);
    let note: string;
    do {
      chars = chars.slice(0, Math.floor(chars.length * 0.9));
      note = chars.join('') + '…';
    } while (jsonBytes({ note }) > MAX_CONTEXT_BYTES);
    return { note };
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  return null;
}

/**
 * The composer's text once `openChat` brings `text`: it fills an empty composer or replaces the
 * previous `openChat` text the visitor left as it was, and never overwrites what they typed (so
 * repeated calls show the message once). At most the 4000 characters a message may have.
 */
export function prefilled(draft: string, previous: string | null, text: string): string {
  if (draft.trim() && draft !== previous) return draft;
  return Array.from(text).slice(0, MAX_BODY_CHARS).join('');
}

/** The `status` event for the chat's state; null until the server's first `status` frame. */
export function teamStatus(state: Pick<ChatState, 'agents' | 'opensAt' | 'botOn'>): TeamStatus | null {
  return state.agents ? { team: state.agents, opens_at: state.opensAt, bot: state.botOn } : null;
}
