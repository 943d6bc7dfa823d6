// Service hours apart from their screen: the form's shape (a row per weekday, special days with
// "closed all day", each reply's text per language) and the api's document (`ServiceHours`),
// each to the other; the times offered; where an api field error belongs on the form; the words
// of "now" (times in the hours' time zone, in the member's language).
import type { AutoClose, AutoReply, ServiceHours } from '../../api/protocol';
import type { Key } from '../../i18n';

/** The languages automatic replies are written in (the api's widget languages). */
export const REPLY_LANGUAGES = ['en', 'zh-CN'] as const;
export type ReplyLanguage = (typeof REPLY_LANGUAGES)[number];

/** Spans per weekday (7 × 4: the api's 28 a week) and per special day; special days; lengths. */
export const MAX_DAY_SPANS = 4;
export const MAX_SPECIAL_SPANS = 4;
export const MAX_SPECIAL_DAYS = 100;
export const MAX_LABEL = 60;
export const MAX_REPLY = 1000;
/** Minutes between the times offered. */
export const STEP_MINUTES = 15;

export interface Span {
  from: string;
  to: string;
}
export interface DayRow {
  open: boolean;
  /** Kept while the day is closed, so opening it again brings its hours back. */
  spans: Span[];
}
export interface SpecialRow {
  /** `YYYY-MM-DD`; none until picked. */
  date: string | null;
  label: string;
  closed: boolean;
  spans: Span[];
}
export interface ReplyForm {
  enabled: boolean;
  texts: Record<ReplyLanguage, string>;
}
export interface CloseForm {
  enabled: boolean;
  /** Minutes without activity, 5–10080. */
  after_minutes: number;
  texts: Record<ReplyLanguage, string>;
}
/** The idle minutes the api accepts. */
export const MIN_CLOSE_MINUTES = 5;
export const MAX_CLOSE_MINUTES = 7 * 24 * 60;
export interface HoursForm {
  /** Business hours apply (else the team is there whenever agents are). */
  enabled: boolean;
  timezone: string;
  /** Monday first. */
  week: DayRow[];
  special: SpecialRow[];
  greeting: ReplyForm;
  away: ReplyForm;
  /** Closing idle conversations. */
  autoClose: CloseForm;
}

export const DEFAULT_SPAN: Span = { from: '09:00', to: '18:00' };

/** Minutes since midnight of `HH:MM` (`24:00` is 1440). */
export function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function timeOf(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/**
 * The times offered, every {@link STEP_MINUTES}: starts from 00:00 to 23:45, ends from 00:15 to
 * 24:00 (midnight, the end of the day); a saved time off that grid is offered too.
 */
export function timeChoices(end: boolean, current?: string): string[] {
  const times: string[] = [];
  for (let m = end ? STEP_MINUTES : 0; m <= (end ? 1440 : 1440 - STEP_MINUTES); m += STEP_MINUTES) times.push(timeOf(m));
  if (current && /^\d\d:\d\d$/.test(current) && !times.includes(current)) {
    times.push(current);
    times.sort((a, b) => minutesOf(a) - minutesOf(b));
  }
  return times;
}

/** The span offered when a day gets another: an hour after the last ends, three hours long. */
export function nextSpan(spans: readonly Span[]): Span {
  const last = spans[spans.length - 1];
  if (!last) return { ...DEFAULT_SPAN };
  const from = Math.min(minutesOf(last.to) + 60, 1440 - 60);
  return { from: timeOf(from), to: timeOf(Math.min(from + 180, 1440)) };
}

/** Special days by date, undated ones last (in the order they were added). */
export function byDate(rows: readonly SpecialRow[]): SpecialRow[] {
  return [...rows].sort((a, b) => (a.date ?? '9999').localeCompare(b.date ?? '9999'));
}

function replyForm(reply: AutoReply | AutoClose): ReplyForm {
  return { enabled: reply.enabled, texts: { en: reply.texts.en ?? '', 'zh-CN': reply.texts['zh-CN'] ?? '' } };
}

/** The form for a saved document; without business hours, Monday to Friday 9–18 in `zone` is offered. */
export function toForm(doc: ServiceHours, zone: string): HoursForm {
  const hours = doc.business_hours;
  const week = Array.from({ length: 7 }, (_, i): DayRow => {
    if (!hours) return { open: i < 5, spans: [{ ...DEFAULT_SPAN }] };
    const spans = hours.open.filter((s) => s.day === i + 1).map(({ from, to }) => ({ from, to }));
    return spans.length > 0 ? { open: true, spans } : { open: false, spans: [{ ...DEFAULT_SPAN }] };
  });
  const special = (hours?.special_days ?? []).map((d): SpecialRow => ({
    date: d.date,
    label: d.label,
    closed: d.open.length === 0,
    spans: d.open.length > 0 ? d.open.map(({ from, to }) => ({ from, to })) : [{ ...DEFAULT_SPAN }],
  }));
  return {
    enabled: !!hours,
    timezone: hours?.timezone ?? zone,
    week,
    special: byDate(special),
    greeting: replyForm(doc.auto_replies.greeting),
    away: replyForm(doc.auto_replies.away),
    autoClose: { ...replyForm(doc.auto_close), after_minutes: doc.auto_close.after_minutes },
  };
}

function reply(form: ReplyForm): AutoReply {
  return { enabled: form.enabled, texts: texts(form) };
}

function texts(form: ReplyForm): Record<string, string> {
  // An empty language is left out: visitors speaking it get another language's text.
  const written = REPLY_LANGUAGES.map((l) => [l, (form.texts[l] ?? '').trim()] as const).filter(([, text]) => text);
  return Object.fromEntries(written);
}

/**
 * The document to save. Weekly spans go day by day in the form's order and special days in the
 * form's order, so the api's field errors (`open.3`, `special_days.1`) find their rows again
 * ({@link fieldPath}).
 */
export function toDocument(form: HoursForm): ServiceHours {
  return {
    business_hours: form.enabled
      ? {
          timezone: form.timezone,
          open: form.week.flatMap((row, i) => (row.open ? row.spans.map((s) => ({ day: i + 1, from: s.from, to: s.to })) : [])),
          special_days: form.special.map((d) => ({
            date: d.date ?? '',
            label: d.label.trim(),
            open: d.closed ? [] : d.spans.map(({ from, to }) => ({ from, to })),
          })),
        }
      : null,
    auto_replies: { greeting: reply(form.greeting), away: reply(form.away) },
    auto_close: { enabled: form.autoClose.enabled, after_minutes: form.autoClose.after_minutes, texts: texts(form.autoClose) },
  };
}

export type FieldPath = (string | number)[];

/** The weekday row and span of the document's `open[index]` (see {@link toDocument}). */
function weeklyAt(form: HoursForm, index: number): [number, number] | undefined {
  let at = 0;
  for (const [day, row] of form.week.entries()) {
    if (!row.open) continue;
    if (index < at + row.spans.length) return [day, index - at];
    at += row.spans.length;
  }
  return undefined;
}

/**
 * Where the api's field error (`service_hours.business_hours.special_days.0.open.1.to`) belongs
 * on `form` (the form as saved); none for errors about a list as a whole.
 */
export function fieldPath(field: string, form: HoursForm): FieldPath | undefined {
  const [head, what, index, sub, j, leaf] = field.replace(/^service_hours\./, '').split('.');
  const side = (name: string | undefined) => (name === 'to' ? 'to' : 'from');
  if (head === 'business_hours') {
    if (what === 'timezone') return ['timezone'];
    if (what === 'open' && index !== undefined) {
      const at = weeklyAt(form, Number(index));
      return at && ['week', at[0], 'spans', at[1], side(sub)];
    }
    if (what === 'special_days' && index !== undefined) {
      if (sub === 'date' || sub === 'label') return ['special', Number(index), sub];
      if (sub === 'open' && j !== undefined) return ['special', Number(index), 'spans', Number(j), side(leaf)];
    }
    return undefined;
  }
  if (head === 'auto_close') {
    if (what === 'after_minutes') return ['autoClose', 'after_minutes'];
    if (what === 'texts') return ['autoClose', 'texts', REPLY_LANGUAGES.find((l) => l === index) ?? 'en'];
    return undefined;
  }
  if (head === 'auto_replies' && (what === 'greeting' || what === 'away') && index === 'texts') {
    const language = REPLY_LANGUAGES.find((l) => l === sub) ?? 'en';
    return [what, 'texts', language];
  }
  return undefined;
}

/** The words for an api field error, when the console has its own; else the api's sentence. */
export function problemKey(field: string, code: string): Key | undefined {
  if (code === 'duplicate') return 'hours.problem.duplicateDate';
  if (code === 'too_long') return 'hours.problem.tooLong';
  if (/\.timezone$/.test(field)) return 'hours.problem.timezone';
  if (/\.date$/.test(field)) return 'hours.problem.date';
  if (/\.open\.\d+\.to$/.test(field)) return 'hours.problem.endBeforeStart';
  if (/\.open\.\d+$/.test(field)) return 'hours.problem.time';
  if (/\.texts$/.test(field)) return 'hours.problem.noText';
  if (/after_minutes$/.test(field)) return 'hours.problem.closeMinutes';
  if (code === 'required') return 'field.required';
  return undefined;
}

/** The weekday names, Monday first, in `lang`. */
export function weekdayNames(lang: string): string[] {
  const format = new Intl.DateTimeFormat(lang, { weekday: 'long', timeZone: 'UTC' });
  // 2024-01-01 was a Monday.
  return Array.from({ length: 7 }, (_, i) => format.format(Date.UTC(2024, 0, 1 + i)));
}

const WHEN: Intl.DateTimeFormatOptions = { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };

/** The hours' wall-clock time as the api gives it (`2026-12-05T14:03`), in `lang`. */
export function localTimeLabel(local: string, lang: string): string {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)$/.exec(local);
  if (!m) return local;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return new Intl.DateTimeFormat(lang, { ...WHEN, timeZone: 'UTC' }).format(Date.UTC(y, mo - 1, d, h, mi));
}

/** An instant as the hours' wall-clock time in `zone`, in `lang`. */
export function instantLabel(iso: string, lang: string, zone: string): string {
  try {
    return new Intl.DateTimeFormat(lang, { ...WHEN, timeZone: zone }).format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleString(lang);
  }
}

/** The zone of this browser, for hours turned on for the first time. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** `+08:00` for a zone now (`+00:00` for UTC); empty when the browser cannot tell. */
export function zoneOffset(zone: string, at: Date = new Date()): string {
  try {
    const name = new Intl.DateTimeFormat('en', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value;
    if (!name) return '';
    return name === 'GMT' ? '+00:00' : name.replace(/^GMT/, '');
  } catch {
    return '';
  }
}

/** The IANA zones to choose from: UTC, then the browser's list, with `current` if it lacks it. */
export function timeZones(current?: string): string[] {
  const zones = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
  if (current && !zones.includes(current)) zones.splice(1, 0, current);
  return zones;
}
