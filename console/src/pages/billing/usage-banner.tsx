// The banners at 80 % and 100 % of a plan's limits, and near a trial's end, for every member (an
// agent needs to know why new chats arrive as messages); the owner gets a link to the billing
// page. Loaded after the first paint, read again every five minutes (docs/billing.md).
import { Alert, Button } from 'antd';
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { meterWarning } from './text';

type Usage = components['schemas']['UsageView'];

const EVERY_MS = 5 * 60 * 1000;
const TRIAL_WARNING_DAYS = 7;

export default function UsageBanner({ owner }: { owner: boolean }) {
  const { t, lang } = useI18n();
  const navigate = useNavigate();
  const [usage, setUsage] = useState<Usage>();
  useEffect(() => {
    let stopped = false;
    const read = () => call(api.GET('/api/v1/usage')).then((u) => !stopped && setUsage(u), () => undefined);
    void read();
    const timer = window.setInterval(() => void read(), EVERY_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, []);
  if (!usage) return null;
  const date = (iso: string) => new Date(iso).toLocaleDateString(lang, { dateStyle: 'medium' });
  const warnings = usage.meters
    .filter((m) => m.level !== 'ok')
    .map((m) => ({ key: m.name, level: m.level, message: meterWarning(t, m, date(usage.month_ends_at)) }));
  const trialEnds = usage.trial_ends_at ? new Date(usage.trial_ends_at) : null;
  if (trialEnds && trialEnds.getTime() - Date.now() < TRIAL_WARNING_DAYS * 86_400_000) {
    warnings.push({ key: 'trial', level: 'near', message: t('billing.trialEnds', { plan: usage.plan.name, date: date(usage.trial_ends_at!) }) });
  }
  if (warnings.length === 0) return null;
  const action = owner ? (
    <Button size="small" onClick={() => navigate('/admin/billing')}>{t('billing.seePlan')}</Button>
  ) : undefined;
  return (
    <div data-testid="usage-banners">
      {warnings.map((w) => (
        <Alert key={w.key} banner type={w.level === 'reached' ? 'error' : 'warning'} data-testid={`usage-${w.key}`} data-level={w.level}
          title={owner ? w.message : `${w.message} ${t('billing.askOwner')}`} action={action} />
      ))}
    </div>
  );
}
