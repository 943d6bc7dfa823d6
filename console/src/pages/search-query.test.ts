import { describe, expect, it } from 'vitest';
import { apiQuery, conversationPath, fromUrl, isEmpty, toUrl } from './search-query';

describe('search parameters', () => {
  it('round-trips through the URL, dropping what is not a parameter', () => {
    const url = new URLSearchParams('q=%E9%80%80%E6%AC%BE&status=closed&rating=2,1,9,x&order=relevance&nonsense=1&tag=%20');
    const params = fromUrl(url);
    expect(params).toEqual({ q: '退款', status: 'closed', rating: [1, 2], order: 'relevance' });
    expect(fromUrl(toUrl(params))).toEqual(params);
  });

  it('leaves the default order and empty fields out of the URL', () => {
    expect(toUrl({ q: ' invoice ', order: 'newest', agent: '' }).toString()).toBe('q=invoice');
    expect(isEmpty({ q: '  ' })).toBe(true);
    expect(isEmpty({ status: 'open' })).toBe(false);
  });

  it('builds the api query for a page, without relevance when there are no keywords', () => {
    expect(apiQuery({ q: '退款', order: 'relevance' }, 'cursor', 20)).toEqual({ q: '退款', order: 'relevance', after: 'cursor', limit: 20 });
    expect(apiQuery({ tag: 'vip', order: 'relevance' })).toEqual({ tag: 'vip', limit: 20 });
  });

  it('opens a hit in the inbox view of its conversation', () => {
    expect(conversationPath('conv_1', 'open')).toBe('/inbox/open/conv_1');
    expect(conversationPath('conv_1', 'closed')).toBe('/inbox/closed/conv_1');
  });
});
