import dayjs from 'dayjs';
import { describe, expect, it } from 'vitest';
import { change, duration, percent, presetRange } from './format';

describe('analytics formats', () => {
  it('durations in both languages', () => {
    expect(duration(44.6, 'en')).toBe('45 s');
    expect(duration(200, 'en')).toBe('3 min 20 s');
    expect(duration(7500, 'en')).toBe('2 h 5 min');
    expect(duration(3600, 'zh-CN')).toBe('1小时');
    expect(duration(200, 'zh-CN')).toBe('3分20秒');
    expect(duration(null, 'en')).toBe('–');
  });
  it('shares and changes', () => {
    expect(percent(0.8765)).toBe('87.7%');
    expect(percent(undefined)).toBe('–');
    expect(change(120, 100)).toBe(20);
    expect(change(5, 0)).toBeUndefined();
  });
  it('presets end today', () => {
    expect(presetRange('7d', dayjs('2026-12-05'))).toEqual(['2026-11-29', '2026-12-05']);
    expect(presetRange('today', dayjs('2026-12-05'))).toEqual(['2026-12-05', '2026-12-05']);
  });
});
