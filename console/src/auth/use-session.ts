// React view of the session: re-renders when this or another tab signs in or out.
import { useSyncExternalStore } from 'react';
import { session, type StoredSession } from './session';

export function useSession(): StoredSession | null {
  return useSyncExternalStore(
    (listener) => session.subscribe(listener),
    () => session.current(),
  );
}
