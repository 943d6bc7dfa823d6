// The signed-in session. The refresh token lives only in the api's HttpOnly, SameSite=Strict
// cookie on /api/v1/auth (scripts never see it); each tab keeps its access token in memory and
// gets a new one from POST /api/v1/auth/refresh with that cookie. Who is signed in (user, tenant,
// role; no secrets) is kept in localStorage so every tab shows the same session and signs out
// together. Refresh tokens are single-use (reusing one revokes the session), so refreshes run
// under a Web Lock across tabs: the cookie each sends is the one the previous refresh set.

import type { components } from '../api/schema';

export type SessionUser = components['schemas']['UserView'];
export type SessionTenant = components['schemas']['TenantView'];
/** What the api answers to signup, login, accepting an invitation and refresh. */
export type SessionResponse = components['schemas']['SessionResponse'];

/** Who is signed in, as every tab sees it. */
export interface StoredSession {
  user: SessionUser;
  tenant: SessionTenant;
  role: string;
}

const KEY = 'kefu.session';
/** Refresh this long before the access token expires. */
const MARGIN_MS = 60_000;

/** Storage seam so the logic is unit-testable without a browser. */
export interface SessionStorage {
  get(): string | null;
  set(value: string | null): void;
}

/** Exchanges the cookie for a new access token: the answer, or 'revoked' when the api refuses. */
export type Refresher = () => Promise<SessionResponse | 'revoked'>;

type Lock = <T>(name: string, work: () => Promise<T>) => Promise<T>;

function browserLock(): Lock {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  // The lock is held until `work` settles; its outcome is passed on.
  if (locks) {
    return <T,>(name: string, work: () => Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        locks.request(name, () => work().then(resolve, reject)).catch(reject);
      });
  }
  return (_name, work) => work();
}

function profileOf(response: SessionResponse): StoredSession {
  return { user: response.user, tenant: response.tenant, role: response.role };
}

export class Session {
  private listeners = new Set<() => void>();
  private inflight: Promise<string | null> | null = null;
  private cached: StoredSession | null = null;
  private cachedRaw: string | null = null;
  /** This tab's access token (never stored). */
  private access: { token: string; expiresAt: number } | null = null;

  constructor(
    private readonly storage: SessionStorage,
    private readonly refresher: Refresher,
    private readonly lock: Lock = browserLock(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Who is signed in, or null when signed out. */
  current(): StoredSession | null {
    const raw = this.storage.get();
    if (raw !== this.cachedRaw) {
      this.cachedRaw = raw;
      try {
        this.cached = raw ? (JSON.parse(raw) as StoredSession) : null;
      } catch {
        this.cached = null;
      }
      if (!this.cached) this.access = null;
    }
    return this.cached;
  }

  /** A session the api just started (its refresh token is in the cookie). */
  start(response: SessionResponse): void {
    this.keep(response);
  }

  /** Updates the user part after a profile change or email verification. */
  updateUser(user: Partial<SessionUser>): void {
    const current = this.current();
    if (current) this.write({ ...current, user: { ...current.user, ...user } });
  }

  /** Signed out here and in every tab. */
  expire(): void {
    this.access = null;
    this.write(null);
  }

  /** A valid access token, refreshing first when there is none or it is about to expire; null
   *  when signed out. */
  async accessToken(): Promise<string | null> {
    if (!this.current()) return null;
    if (this.access && this.access.expiresAt - this.now() > MARGIN_MS) return this.access.token;
    return this.refresh();
  }

  /** Refreshes now (deduplicated within the tab, serialised across tabs). */
  refresh(): Promise<string | null> {
    this.inflight ??= this.lock('kefu.session.refresh', () => this.refreshLocked()).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async refreshLocked(): Promise<string | null> {
    if (!this.current()) return null;
    const answer = await this.refresher();
    if (answer === 'revoked') {
      this.expire();
      return null;
    }
    this.keep(answer);
    return answer.access_token;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Call when another tab changed the storage. */
  changedElsewhere(): void {
    this.current();
    for (const listener of this.listeners) listener();
  }

  private keep(response: SessionResponse): void {
    this.access = { token: response.access_token, expiresAt: this.now() + response.expires_in * 1000 };
    this.write(profileOf(response));
  }

  private write(value: StoredSession | null): void {
    this.storage.set(value ? JSON.stringify(value) : null);
    this.changedElsewhere();
  }
}

async function refreshWithCookie(): Promise<SessionResponse | 'revoked'> {
  const response = await fetch('/api/v1/auth/refresh', { method: 'POST', credentials: 'same-origin' });
  if (response.ok) return (await response.json()) as SessionResponse;
  if (response.status === 401) return 'revoked';
  throw new Error(`refresh failed: HTTP ${response.status}`);
}

/** Ends the session on the api (its cookie, its access tokens and sockets everywhere), then here. */
export async function signOut(): Promise<void> {
  await fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
  session.expire();
}

const localStore: SessionStorage = {
  get: () => (typeof localStorage === 'undefined' ? null : localStorage.getItem(KEY)),
  set: (value) => {
    if (typeof localStorage === 'undefined') return;
    if (value === null) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, value);
  },
};

export const session = new Session(localStore, refreshWithCookie);

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key === KEY || event.key === null) session.changedElsewhere();
  });
}
