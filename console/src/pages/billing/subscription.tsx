// The owner's subscription through Stripe: its status, renewal or end, the grace period after a
// failed payment, the Customer Portal (payment methods, invoices), and cancelling at the end of
// the paid period or taking that back (docs/billing.md, "Stripe").
import { Alert, Button, Card, Popconfirm, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { useApp } from '../../ui/app';
import { describe } from '../../ui/errors';
import { statusName } from './text';

export type Billing = components['schemas']['BillingView'];

export function SubscriptionCard({ billing, onChange }: { billing: Billing; onChange: (b: Billing) => void }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [busy, setBusy] = useState<string>();
  const date = (iso?: string | null) => (iso ? new Date(iso).toLocaleDateString(lang, { dateStyle: 'medium' }) : '—');
  const run = async (what: string, action: () => Promise<void>) => {
    setBusy(what);
    try {
      await action();
    } catch (e) {
      message.error(describe(e, t));
    } finally {
      setBusy(undefined);
    }
  };
  const portal = () =>
    run('portal', async () => {
      const { url } = await call(api.POST('/api/v1/billing/portal'));
      window.location.assign(url);
    });
  const cancel = (resume: boolean) =>
    run(resume ? 'resume' : 'cancel', async () => {
      onChange(await call(api.POST(resume ? '/api/v1/billing/resume' : '/api/v1/billing/cancel')));
    });
  const tone = billing.status === 'active' || billing.status === 'trialing' ? 'green' : billing.status === 'canceled' ? 'default' : 'red';
  return (
    <Card size="small" title={t('billing.subscription')} data-testid="billing-subscription">
      <Space direction="vertical" style={{ width: '100%' }}>
        {!billing.status ? (
          <Typography.Text>{t('billing.noSubscription')}</Typography.Text>
        ) : (
          <Space wrap>
            <Tag color={tone} data-testid="billing-status" data-status={billing.status}>{statusName(t, billing.status)}</Tag>
            {billing.live && !billing.grace_ends_at && (
              <Typography.Text data-testid="billing-period">
                {billing.cancel_at_period_end
                  ? t('billing.endsOn', { date: date(billing.period_end) })
                  : t('billing.renews', { date: date(billing.period_end), seats: billing.billed_seats ?? 1 })}
              </Typography.Text>
            )}
          </Space>
        )}
        {billing.grace_ends_at && (
          <Alert type="error" showIcon data-testid="billing-grace"
            message={t(new Date(billing.grace_ends_at) > new Date() ? 'billing.grace' : 'billing.graceOver', { date: date(billing.grace_ends_at) })} />
        )}
        <Space wrap>
          {billing.status && (
            <Button onClick={portal} loading={busy === 'portal'} data-testid="billing-portal">{t('billing.portal')}</Button>
          )}
          {billing.live && !billing.cancel_at_period_end && (
            <Popconfirm title={t('billing.cancelConfirm', { date: date(billing.period_end) })} onConfirm={() => cancel(false)} okText={t('billing.cancel')}>
              <Button danger loading={busy === 'cancel'} data-testid="billing-cancel">{t('billing.cancel')}</Button>
            </Popconfirm>
          )}
          {billing.live && billing.cancel_at_period_end && (
            <Button type="primary" onClick={() => cancel(true)} loading={busy === 'resume'} data-testid="billing-resume">{t('billing.resume')}</Button>
          )}
        </Space>
      </Space>
    </Card>
  );
}
