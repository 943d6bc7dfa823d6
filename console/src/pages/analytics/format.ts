// Numbers of the analytics page as people read them: durations in s/min/h, shares in %, the
// change against the previous period, and the period presets (local dates, `YYYY-MM-DD`).
import dayjs from 'dayjs';
import type { Lang } from '../../i18n';

/** A duration in seconds, shortest readable form: 45 s, 3 min 20 s, 2 h 5 min (中文: 45秒, 3分20秒, 2小时5分). */
export function duration(secs: number | null | undefined, lang: Lang): string {
  if (secs == null || !Number.isFinite(secs)) return '–';
  const zh = lang === 'zh-CN';
  const whole = Math.round(secs);
  if (whole < 60) return zh ? `${whole}秒` : `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) {
    const rest = whole % 60;
    if (zh) return rest ? `${minutes}分${rest}秒` : `${minutes}分钟`;
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (zh) return rest ? `${hours}小时${rest}分` : `${hours}小时`;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** A share (0–1) as a percentage with at most one decimal. */
export function percent(share: number | null | undefined): string {
  if (share == null || !Number.isFinite(share)) return '–';
  const value = Math.round(share * 1000) / 10;
  return `${value}%`;
}

/** The change from `before` to `now` in percent, or undefined when there is nothing to compare. */
export function change(now: number | null | undefined, before: number | null | undefined): number | undefined {
  if (now == null || before == null || before === 0) return undefined;
  return Math.round(((now - before) / before) * 1000) / 10;
}

export type Preset = 'today' | '7d' | '30d' | '90d' | '365d';

/** The first and last local day of a preset ending today. */
export function presetRange(preset: Preset, today = dayjs()): [string, string] {
  const days = { today: 1, '7d': 7, '30d': 30, '90d': 90, '365d': 365 }[preset];
  return [today.subtract(days - 1, 'day').format('YYYY-MM-DD'), today.format('YYYY-MM-DD')];
}
