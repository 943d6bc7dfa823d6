// The owner's billing page: the plan, the trial's end, every limit with its use, and the plans
// offered (docs/billing.md).
import { Card, Descriptions, Progress, Space, Table, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { featureName, meterName, meterWarning, text } from './text';

type Usage = components['schemas']['UsageView'];

const capitalized = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);
type Plan = components['schemas']['PlanSummary'];

export function BillingPage() {
  const { t, lang } = useI18n();
  const [usage, setUsage] = useState<Usage>();
  const [plans, setPlans] = useState<Plan[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    call(api.GET('/api/v1/usage')).then(setUsage, (e) => setError(describe(e, t)));
    call(api.GET('/api/v1/plans')).then(setPlans, (e) => setError(describe(e, t)));
    // `t` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const date = (iso: string) => new Date(iso).toLocaleDateString(lang, { dateStyle: 'medium' });
  const money = (cents: number, currency: string) =>
    cents === 0 ? text(lang, 'free') : text(lang, 'perSeat', { price: new Intl.NumberFormat(lang, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100) });
  if (error) return <Typography.Text type="danger">{error}</Typography.Text>;
  if (!usage) return null;
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }} data-testid="billing">
      <Typography.Title level={3}>{text(lang, 'title')}</Typography.Title>
      <Card size="small" title={text(lang, 'currentPlan')}>
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={text(lang, 'colPlan')}>
            <Space>
              <span data-testid="billing-plan">{usage.plan.name}</span>
              {usage.trial_ends_at && <Tag color="blue" data-testid="billing-trial">{text(lang, 'trialUntil', { date: date(usage.trial_ends_at) })}</Tag>}
            </Space>
          </Descriptions.Item>
        </Descriptions>
        <Space direction="vertical" style={{ width: '100%' }}>
          {usage.meters.map((m) => (
            <div key={m.name} data-testid={`billing-meter-${m.name}`} data-level={m.level}>
              <Typography.Text>{capitalized(meterName(lang, m.name))}: {m.used.toLocaleString(lang)} / {m.limit.toLocaleString(lang)}</Typography.Text>
              <Progress percent={m.limit > 0 ? Math.min(100, Math.floor((m.used * 100) / m.limit)) : 100}
                status={m.level === 'reached' ? 'exception' : m.level === 'near' ? 'active' : 'normal'} size="small" />
              {m.level !== 'ok' && <Typography.Text type={m.level === 'reached' ? 'danger' : 'warning'}>{meterWarning(lang, m, date(usage.month_ends_at))}</Typography.Text>}
            </div>
          ))}
          <Typography.Text type="secondary">
            {text(lang, 'monthResets', { date: date(usage.month_ends_at) })} {usage.conversations_paused ? text(lang, 'paused') : ''}
          </Typography.Text>
        </Space>
      </Card>
      <Card size="small" title={text(lang, 'plans')}>
        <Table<Plan> size="small" rowKey="id" pagination={false} dataSource={plans} scroll={{ x: true }} data-testid="billing-plans"
          columns={[
            { title: text(lang, 'colPlan'), render: (_, p) => <Space>{p.name}{p.id === usage.plan.id && <Tag color="green">{text(lang, 'current')}</Tag>}</Space> },
            { title: text(lang, 'colPrice'), render: (_, p) => money(p.price_per_seat_cents, p.currency) },
            { title: text(lang, 'colSeats'), dataIndex: 'seats' },
            { title: text(lang, 'colConversations'), render: (_, p) => p.conversations_per_month.toLocaleString(lang) },
            { title: text(lang, 'colStorage'), render: (_, p) => `${p.attachment_storage_mb.toLocaleString(lang)} MiB` },
            { title: text(lang, 'colKb'), render: (_, p) => p.kb_entries.toLocaleString(lang) },
            { title: text(lang, 'colHistory'), render: (_, p) => (p.max_retention_days == null ? text(lang, 'historyAll') : text(lang, 'historyDays', { days: p.max_retention_days })) },
            { title: text(lang, 'colFeatures'), render: (_, p) => p.features.map((f) => <Tag key={f}>{featureName(lang, f)}</Tag>) },
          ]} />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>{text(lang, 'changeByOperator')}</Typography.Paragraph>
      </Card>
    </Space>
  );
}
