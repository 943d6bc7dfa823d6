// Role order (docs/api.md "Roles"): what the console offers follows what the api allows.
const RANK: Record<string, number> = { agent: 0, supervisor: 1, admin: 2, owner: 3 };

export function atLeast(role: string, needed: 'agent' | 'supervisor' | 'admin' | 'owner'): boolean {
  return (RANK[role] ?? -1) >= (RANK[needed] ?? 99);
}

/** The roles a member of `role` may give (never above their own, never owner). */
export function grantable(role: string): Array<'agent' | 'supervisor' | 'admin'> {
  return (['agent', 'supervisor', 'admin'] as const).filter((r) => (RANK[r] ?? 99) <= (RANK[role] ?? -1));
}
