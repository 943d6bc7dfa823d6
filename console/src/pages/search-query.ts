// The search page's state as URL parameters (so a search can be bookmarked, shared and gone back
// to) and as the api's query (`GET /api/v1/search`). Pure: tested by vitest.

/** What the page searches for; every field optional. Names are the api's. */
export interface SearchParams {
  q?: string;
  from?: string;
  to?: string;
  agent?: string;
  visitor?: string;
  team?: string;
  tag?: string;
  status?: 'open' | 'closed';
  rating?: number[];
  sender?: string;
  order?: 'newest' | 'relevance';
}

export const SENDERS = ['visitor', 'agent', 'bot', 'auto', 'system', 'note'] as const;

const TEXT_KEYS = ['q', 'from', 'to', 'agent', 'visitor', 'team', 'tag', 'sender'] as const;

/** Reads the page's parameters from the URL, dropping what is not one. */
export function fromUrl(url: URLSearchParams): SearchParams {
  const params: SearchParams = {};
  for (const key of TEXT_KEYS) {
    const value = url.get(key)?.trim();
    if (value) params[key] = value;
  }
  const status = url.get('status');
  if (status === 'open' || status === 'closed') params.status = status;
  const order = url.get('order');
  if (order === 'relevance' || order === 'newest') params.order = order;
  const rating = (url.get('rating') ?? '')
    .split(',')
    .map(Number)
    .filter((r) => Number.isInteger(r) && r >= 1 && r <= 5);
  if (rating.length > 0) params.rating = [...new Set(rating)].sort();
  return params;
}

/** The URL parameters of a search (empty fields left out). */
export function toUrl(params: SearchParams): URLSearchParams {
  const url = new URLSearchParams();
  for (const key of TEXT_KEYS) {
    const value = params[key]?.trim();
    if (value) url.set(key, value);
  }
  if (params.status) url.set('status', params.status);
  if (params.order && params.order !== 'newest') url.set('order', params.order);
  if (params.rating && params.rating.length > 0) url.set('rating', params.rating.join(','));
  return url;
}

/** Whether there is anything to search for (keywords or a filter). */
export function isEmpty(params: SearchParams): boolean {
  return toUrl(params).toString() === '';
}

/** The api's query for one page. */
export function apiQuery(params: SearchParams, after?: string, limit = 20): Record<string, string | number> {
  const query: Record<string, string | number> = { limit };
  for (const [key, value] of toUrl(params)) query[key] = value;
  // Relevance needs keywords; without them the api would refuse it.
  if (query.order === 'relevance' && !query.q) delete query.order;
  if (after) query.after = after;
  return query;
}

/** Where a hit's conversation opens in the inbox. */
export function conversationPath(conversationId: string, status: string): string {
  return `/inbox/${status === 'open' ? 'open' : 'closed'}/${conversationId}`;
}
