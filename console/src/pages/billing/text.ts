// The words of plans and usage that depend on what the api says (a meter's name, a warning, a
// subscription's status, a feature's name), from the billing area's pack (i18n/en/billing.ts),
// which comes with the usage banner and the billing page (docs/console.md, "Weight").
import type { Key, Vars } from '../../i18n';

type T = (key: Key, vars?: Vars) => string;

const METERS: Record<string, Key> = {
  seats: 'billing.meterSeats',
  conversations: 'billing.meterConversations',
  storage_mb: 'billing.meterStorage',
  kb_entries: 'billing.meterKb',
};
const REACHED: Record<string, Key> = {
  seats: 'billing.reachedSeats',
  conversations: 'billing.reachedConversations',
  storage_mb: 'billing.reachedStorage',
  kb_entries: 'billing.reachedKb',
};

/** A meter's name. */
export function meterName(t: T, name: string): string {
  const key = METERS[name];
  return key ? t(key) : name;
}

/** What a meter at `near` or `reached` means for the workspace. */
export function meterWarning(t: T, meter: { name: string; used: number; limit: number; level: string }, monthEnds: string): string {
  const reached = REACHED[meter.name];
  if (meter.level === 'reached' && reached) return t(reached, { limit: meter.limit, date: monthEnds });
  const percent = meter.limit > 0 ? Math.floor((meter.used * 100) / meter.limit) : 100;
  return t('billing.near', { percent, meter: meterName(t, meter.name), used: meter.used, limit: meter.limit });
}

const FEATURES: Record<string, Key> = {
  bot: 'billing.featureBot',
  api: 'billing.featureApi',
  regions: 'billing.featureRegions',
  analytics_export: 'billing.featureAnalyticsExport',
};

const STATUSES: Record<string, Key> = {
  active: 'billing.statusActive',
  trialing: 'billing.statusTrialing',
  past_due: 'billing.statusPastDue',
  unpaid: 'billing.statusUnpaid',
  canceled: 'billing.statusCanceled',
  incomplete: 'billing.statusIncomplete',
};

/** A subscription's Stripe status in words. */
export function statusName(t: T, status: string): string {
  const key = STATUSES[status];
  return key ? t(key) : t('billing.statusOther', { status });
}

/** A feature's name. */
export function featureName(t: T, feature: string): string {
  const key = FEATURES[feature];
  return key ? t(key) : feature;
}
