import { describe, expect, it } from 'vitest';
import { Session, type SessionResponse, type SessionStorage } from './session';

function memory(): SessionStorage & { value: string | null } {
  const store = { value: null as string | null, get: () => store.value, set: (v: string | null) => void (store.value = v) };
  return store;
}

function answer(n: number): SessionResponse {
  return {
    access_token: `access-${n}`,
    token_type: 'Bearer',
    expires_in: 900,
    refresh_token: null,
    user: { id: 'usr_1', email: 'a@example.com', display_name: 'A', email_verified: true },
    tenant: { id: 'tnt_1', slug: 'acme', name: 'Acme' },
    role: 'owner',
  };
}

/** Two tabs sharing one storage and one lock, as two browser tabs share localStorage and Web Locks
 *  (and the cookie the refresher sends). */
function tabs(refresher: () => Promise<SessionResponse | 'revoked'>, clock: { now: number }) {
  const storage = memory();
  let chain = Promise.resolve();
  const lock = <T,>(_name: string, work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work);
    chain = run.then(() => undefined, () => undefined);
    return run;
  };
  const make = () => new Session(storage, refresher, lock, () => clock.now);
  return { storage, a: make(), b: make() };
}

describe('session', () => {
  it('uses the access token while fresh and refreshes shortly before it expires', async () => {
    const clock = { now: 0 };
    let refreshes = 0;
    const { a } = tabs(async () => answer(++refreshes + 1), clock);
    a.start(answer(1));
    expect(await a.accessToken()).toBe('access-1');
    clock.now = 850_000;
    expect(await a.accessToken()).toBe('access-2');
    expect(refreshes).toBe(1);
  });

  it('keeps no token in storage: only who is signed in', async () => {
    const clock = { now: 0 };
    const { a, storage } = tabs(async () => answer(2), clock);
    a.start(answer(1));
    expect(storage.value).not.toContain('access-1');
    expect(JSON.parse(storage.value ?? '{}')).toEqual({ user: answer(1).user, tenant: answer(1).tenant, role: 'owner' });
  });

  it('a second tab gets its own access token through the cookie, one refresh at a time', async () => {
    const clock = { now: 0 };
    let running = 0;
    let most = 0;
    let refreshes = 0;
    const { a, b } = tabs(async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
      return answer(++refreshes + 1);
    }, clock);
    a.start(answer(1));
    const [ta, tb] = await Promise.all([a.accessToken(), b.accessToken()]);
    expect(ta).toBe('access-1');
    expect(tb).toBe('access-2');
    expect(most).toBe(1);
  });

  it('ends the session in every tab when the refresh is refused', async () => {
    const clock = { now: 0 };
    const { a, b, storage } = tabs(async () => 'revoked', clock);
    a.start(answer(1));
    expect(await b.accessToken()).toBeNull();
    expect(storage.value).toBeNull();
    expect(a.current()).toBeNull();
    expect(await a.accessToken()).toBeNull();
  });

  it('keeps the session when the network fails during a refresh', async () => {
    const clock = { now: 0 };
    const { a } = tabs(async () => {
      throw new Error('offline');
    }, clock);
    a.start(answer(1));
    clock.now = 899_000;
    await expect(a.accessToken()).rejects.toThrow('offline');
    expect(a.current()?.user.id).toBe('usr_1');
  });
});
