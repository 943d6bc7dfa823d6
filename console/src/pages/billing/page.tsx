// The owner's billing page: the plan, the trial's end, every limit with its use, the
// subscription (docs/billing.md, "Stripe"), and the plans offered with a button to subscribe or
// switch; back from Stripe Checkout, it waits for Stripe's confirmation.
import { Alert, Button, Card, Descriptions, Progress, Space, Table, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { useApp } from '../../ui/app';
import { describe } from '../../ui/errors';
import { type Billing, SubscriptionCard } from './subscription';
import { featureName, meterName, meterWarning } from './text';

type Usage = components['schemas']['UsageView'];

const capitalized = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);
type Plan = components['schemas']['PlanSummary'];

export function BillingPage() {
  const { t, lang } = useI18n();
  const [usage, setUsage] = useState<Usage>();
  const [plans, setPlans] = useState<Plan[]>([]);
  const [billing, setBilling] = useState<Billing>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [returned, setReturned] = useState(() => new URLSearchParams(window.location.search).get('checkout'));
  const { message } = useApp();
  const load = () =>
    Promise.all([call(api.GET('/api/v1/usage')), call(api.GET('/api/v1/billing'))]).then(([u, b]) => {
      setUsage(u);
      setBilling(b);
      return b;
    });
  useEffect(() => {
    load().catch((e) => setError(describe(e, t)));
    call(api.GET('/api/v1/plans')).then(setPlans, (e) => setError(describe(e, t)));
    // `t` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  // Back from Checkout: Stripe's webhook confirms within seconds; look again until it did.
  useEffect(() => {
    if (returned !== 'done') return;
    let tries = 0;
    const timer = window.setInterval(() => {
      tries += 1;
      load().then((b) => {
        if (b.live || tries >= 30) {
          window.clearInterval(timer);
          window.history.replaceState(null, '', window.location.pathname);
          setReturned(b.live ? 'confirmed' : null);
        }
      }, () => undefined);
    }, 1500);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [returned]);
  const subscribe = async (plan: Plan) => {
    setBusy(plan.id);
    try {
      const { checkout_url } = await call(api.POST('/api/v1/billing/subscribe', { body: { plan: plan.id } }));
      if (checkout_url) {
        message.loading(t('billing.working'));
        window.location.assign(checkout_url);
        return;
      }
      await load();
      message.success(t('billing.switched', { plan: plan.name }));
    } catch (e) {
      message.error(describe(e, t));
    }
    setBusy(undefined);
  };
  const date = (iso: string) => new Date(iso).toLocaleDateString(lang, { dateStyle: 'medium' });
  const money = (cents: number, currency: string) =>
    cents === 0 ? t('billing.free') : t('billing.perSeat', { price: new Intl.NumberFormat(lang, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100) });
  if (error) return <Typography.Text type="danger">{error}</Typography.Text>;
  if (!usage) return null;
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }} data-testid="billing">
      <Typography.Title level={3}>{t('billing.title')}</Typography.Title>
      {returned === 'done' && <Alert type="info" showIcon message={t('billing.confirming')} data-testid="billing-confirming" />}
      {returned === 'confirmed' && <Alert type="success" showIcon message={t('billing.confirmed')} data-testid="billing-confirmed" />}
      {returned === 'cancelled' && <Alert type="warning" showIcon message={t('billing.checkoutCancelled')} />}
      <Card size="small" title={t('billing.currentPlan')}>
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={t('billing.colPlan')}>
            <Space>
              <span data-testid="billing-plan">{usage.plan.name}</span>
              {usage.trial_ends_at && <Tag color="blue" data-testid="billing-trial">{t('billing.trialUntil', { date: date(usage.trial_ends_at) })}</Tag>}
            </Space>
          </Descriptions.Item>
        </Descriptions>
        <Space direction="vertical" style={{ width: '100%' }}>
          {usage.meters.map((m) => (
            <div key={m.name} data-testid={`billing-meter-${m.name}`} data-level={m.level}>
              <Typography.Text>{capitalized(meterName(t, m.name))}: {m.used.toLocaleString(lang)} / {m.limit.toLocaleString(lang)}</Typography.Text>
              <Progress percent={m.limit > 0 ? Math.min(100, Math.floor((m.used * 100) / m.limit)) : 100}
                status={m.level === 'reached' ? 'exception' : m.level === 'near' ? 'active' : 'normal'} size="small" />
              {m.level !== 'ok' && <Typography.Text type={m.level === 'reached' ? 'danger' : 'warning'}>{meterWarning(t, m, date(usage.month_ends_at))}</Typography.Text>}
            </div>
          ))}
          <Typography.Text type="secondary">
            {t('billing.monthResets', { date: date(usage.month_ends_at) })} {usage.conversations_paused ? t('billing.paused') : ''}
          </Typography.Text>
        </Space>
      </Card>
      {billing?.stripe && <SubscriptionCard billing={billing} onChange={setBilling} />}
      <Card size="small" title={t('billing.plans')}>
        <Table<Plan> size="small" rowKey="id" pagination={false} dataSource={plans} scroll={{ x: true }} data-testid="billing-plans"
          columns={[
            { title: t('billing.colPlan'), render: (_, p) => <Space>{p.name}{p.id === usage.plan.id && <Tag color="green">{t('billing.current')}</Tag>}</Space> },
            { title: t('billing.colPrice'), render: (_, p) => money(p.price_per_seat_cents, p.currency) },
            { title: t('billing.colSeats'), dataIndex: 'seats' },
            { title: t('billing.colConversations'), render: (_, p) => p.conversations_per_month.toLocaleString(lang) },
            { title: t('billing.colStorage'), render: (_, p) => `${p.attachment_storage_mb.toLocaleString(lang)} MiB` },
            { title: t('billing.colKb'), render: (_, p) => p.kb_entries.toLocaleString(lang) },
            { title: t('billing.colHistory'), render: (_, p) => (p.max_retention_days == null ? t('billing.historyAll') : t('billing.historyDays', { days: p.max_retention_days })) },
            { title: t('billing.colFeatures'), render: (_, p) => p.features.map((f) => <Tag key={f}>{featureName(t, f)}</Tag>) },
            ...(billing?.stripe
              ? [{
                  title: '',
                  render: (_: unknown, p: Plan) =>
                    p.purchasable && !(p.id === usage.plan.id && billing.live) && (
                      <Button type={billing.live ? 'default' : 'primary'} size="small" loading={busy === p.id} disabled={!!busy}
                        onClick={() => subscribe(p)} data-testid={`billing-subscribe-${p.id}`}>
                        {billing.live ? t('billing.switchTo') : t('billing.subscribe')}
                      </Button>
                    ),
                }]
              : []),
          ]} />
        {!billing?.stripe && <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>{t('billing.changeByOperator')}</Typography.Paragraph>}
      </Card>
    </Space>
  );
}
