import { describe, expect, it } from 'vitest';
import type { ServiceHours } from '../../api/protocol';
import {
  byDate, fieldPath, instantLabel, localTimeLabel, nextSpan, problemKey, timeChoices, timeZones, toDocument, toForm, weekdayNames, zoneOffset,
} from './hours-form';

const replies = {
  greeting: { enabled: false, texts: { en: 'Hello!', 'zh-CN': '您好！' } },
  away: { enabled: true, texts: { en: 'We are away.' } },
};

const autoClose = { enabled: true, after_minutes: 45, texts: { 'zh-CN': '对话已结束。' } };

const saved: ServiceHours = {
  business_hours: {
    timezone: 'Asia/Shanghai',
    open: [
      { day: 1, from: '09:00', to: '12:00' },
      { day: 1, from: '13:00', to: '18:00' },
      { day: 3, from: '09:00', to: '18:00' },
      { day: 6, from: '10:00', to: '24:00' },
    ],
    special_days: [
      { date: '2026-10-11', label: '调休', open: [{ from: '13:00', to: '17:30' }] },
      { date: '2026-10-01', label: '国庆节', open: [] },
    ],
  },
  auto_replies: replies,
  auto_close: autoClose,
};

describe('service hours', () => {
  it('turns the document into rows per weekday and dated special days, and back', () => {
    const form = toForm(saved, 'Europe/Berlin');
    expect(form.enabled).toBe(true);
    expect(form.timezone).toBe('Asia/Shanghai');
    expect(form.week.map((d) => d.open)).toEqual([true, false, true, false, false, true, false]);
    expect(form.week[0]?.spans).toEqual([{ from: '09:00', to: '12:00' }, { from: '13:00', to: '18:00' }]);
    expect(form.week[1]?.spans, 'a closed day keeps hours to open it with').toEqual([{ from: '09:00', to: '18:00' }]);
    expect(form.special.map((d) => [d.date, d.closed])).toEqual([['2026-10-01', true], ['2026-10-11', false]]);
    expect(form.away.texts).toEqual({ en: 'We are away.', 'zh-CN': '' });

    const doc = toDocument(form);
    expect(doc.business_hours?.open).toEqual(saved.business_hours?.open);
    expect(doc.business_hours?.special_days).toEqual([...(saved.business_hours?.special_days ?? [])].reverse());
    expect(doc.auto_replies, 'an empty language is left out').toEqual(replies);
    expect(form.autoClose).toEqual({ enabled: true, after_minutes: 45, texts: { en: '', 'zh-CN': '对话已结束。' } });
    expect(doc.auto_close, 'auto-close goes back as it came').toEqual(autoClose);
  });

  it('offers Monday to Friday in the browser zone until hours are set, and saves none while off', () => {
    const form = toForm({ business_hours: null, auto_replies: replies, auto_close: autoClose }, 'Europe/Berlin');
    expect(form.enabled).toBe(false);
    expect(form.timezone).toBe('Europe/Berlin');
    expect(form.week.map((d) => d.open)).toEqual([true, true, true, true, true, false, false]);
    expect(toDocument(form).business_hours).toBeNull();
    const on = toDocument({ ...form, enabled: true });
    expect(on.business_hours?.open).toHaveLength(5);
    expect(on.business_hours?.open[4]).toEqual({ day: 5, from: '09:00', to: '18:00' });
  });

  it('offers times every 15 minutes, ends up to 24:00, and a saved time off the grid', () => {
    const starts = timeChoices(false);
    expect([starts[0], starts.at(-1), starts.length]).toEqual(['00:00', '23:45', 96]);
    const ends = timeChoices(true);
    expect([ends[0], ends.at(-1), ends.length]).toEqual(['00:15', '24:00', 96]);
    const odd = timeChoices(false, '09:10');
    expect(odd.slice(odd.indexOf('09:00'), odd.indexOf('09:00') + 3)).toEqual(['09:00', '09:10', '09:15']);
    expect(nextSpan([{ from: '09:00', to: '12:00' }])).toEqual({ from: '13:00', to: '16:00' });
    expect(nextSpan([{ from: '18:00', to: '24:00' }])).toEqual({ from: '23:00', to: '24:00' });
  });

  it('sorts special days by date, undated last', () => {
    const row = (date: string | null) => ({ date, label: '', closed: true, spans: [] });
    expect(byDate([row(null), row('2026-12-25'), row('2026-01-01')]).map((r) => r.date)).toEqual(['2026-01-01', '2026-12-25', null]);
  });

  it('finds the field of an api error on the form', () => {
    const form = toForm(saved, 'UTC');
    const at = (field: string) => fieldPath(`service_hours.${field}`, form);
    expect(at('business_hours.timezone')).toEqual(['timezone']);
    // open[2] is Wednesday's only span (Monday has two, Tuesday is closed).
    expect(at('business_hours.open.2.to')).toEqual(['week', 2, 'spans', 0, 'to']);
    expect(at('business_hours.open.3')).toEqual(['week', 5, 'spans', 0, 'from']);
    expect(at('business_hours.open.9')).toBeUndefined();
    expect(at('business_hours.special_days.1.date')).toEqual(['special', 1, 'date']);
    expect(at('business_hours.special_days.0.open.0.to')).toEqual(['special', 0, 'spans', 0, 'to']);
    expect(at('business_hours.special_days.0.open')).toBeUndefined();
    expect(at('auto_replies.away.texts.zh-CN')).toEqual(['away', 'texts', 'zh-CN']);
    expect(at('auto_replies.greeting.texts')).toEqual(['greeting', 'texts', 'en']);
    expect(problemKey('service_hours.business_hours.special_days.0.open.0.to', 'invalid')).toBe('hours.problem.endBeforeStart');
    expect(problemKey('service_hours.business_hours.special_days.2.date', 'duplicate')).toBe('hours.problem.duplicateDate');
    expect(problemKey('service_hours.business_hours.timezone', 'unknown')).toBe('hours.problem.timezone');
    expect(problemKey('service_hours.auto_replies.away.texts', 'required')).toBe('hours.problem.noText');
    expect(problemKey('service_hours.business_hours.open', 'too_many')).toBeUndefined();
  });

  it('says times in the hours\u2019 zone in the member\u2019s language', () => {
    expect(weekdayNames('en')[0]).toBe('Monday');
    expect(weekdayNames('zh-CN')[6]).toBe('星期日');
    expect(localTimeLabel('2026-12-07T14:03', 'en')).toBe('Mon, Dec 7, 14:03');
    // 01:00 UTC is 09:00 in Shanghai.
    expect(instantLabel('2026-12-07T01:00:00Z', 'en', 'Asia/Shanghai')).toBe('Mon, Dec 7, 09:00');
    expect(zoneOffset('Asia/Shanghai')).toBe('+08:00');
    expect(zoneOffset('UTC')).toBe('+00:00');
    expect(timeZones()[0]).toBe('UTC');
    expect(timeZones('Asia/Calcutta')).toContain('Asia/Calcutta');
  });

  it('places auto-close errors on their fields', () => {
    const form = toForm(saved, 'UTC');
    expect(fieldPath('service_hours.auto_close.after_minutes', form)).toEqual(['autoClose', 'after_minutes']);
    expect(fieldPath('service_hours.auto_close.texts.zh-CN', form)).toEqual(['autoClose', 'texts', 'zh-CN']);
    expect(problemKey('service_hours.auto_close.after_minutes', 'out_of_range')).toBe('hours.problem.closeMinutes');
  });
});
