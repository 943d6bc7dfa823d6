import { describe, expect, it } from 'vitest';
import { regionUrl } from './regions';

describe('regionUrl', () => {
  it('joins the console, the path and the non-empty parameters', () => {
    expect(regionUrl('https://app.ap-east.kefu.example', 'signup', { company: '区域 Shop', name: undefined, email: 'a+b@x.example' }))
      .toBe('https://app.ap-east.kefu.example/signup?company=%E5%8C%BA%E5%9F%9F+Shop&email=a%2Bb%40x.example');
  });

  it('keeps a console under a path', () => {
    expect(regionUrl('https://kefu.example/eu', 'login', {})).toBe('https://kefu.example/eu/login');
  });
});
