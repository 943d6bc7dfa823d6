// Inbox keyboard shortcuts (F14). They act only when no text field has the focus, so typing a
// reply never triggers them.
import { useEffect, useRef } from 'react';
import type { Key } from '../../i18n';

export interface ShortcutActions {
  next(): void;
  previous(): void;
  reply(): void;
  claim(): void;
  close(): void;
  help(): void;
}

export const SHORTCUTS: ReadonlyArray<{ keys: string; action: keyof ShortcutActions; label: Key }> = [
  { keys: 'j', action: 'next', label: 'shortcuts.next' },
  { keys: 'k', action: 'previous', label: 'shortcuts.previous' },
  { keys: 'r', action: 'reply', label: 'shortcuts.reply' },
  { keys: 'c', action: 'claim', label: 'shortcuts.claim' },
  { keys: 'e', action: 'close', label: 'shortcuts.close' },
  { keys: '?', action: 'help', label: 'shortcuts.help' },
];

/** The action a key press means, or undefined (pure, unit-tested). */
export function shortcutFor(event: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }, typing: boolean): keyof ShortcutActions | undefined {
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return undefined;
  return SHORTCUTS.find((s) => s.keys === event.key)?.action;
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

export function useShortcuts(actions: ShortcutActions): void {
  const current = useRef(actions);
  current.current = actions;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const action = shortcutFor(event, isTyping(event.target));
      if (!action) return;
      event.preventDefault();
      current.current[action]();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}
