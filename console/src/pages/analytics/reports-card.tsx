// Scheduled reports (docs/analytics.md, "Reports"): who receives yesterday's figures every
// morning and last week's every Monday, by mail in their own language. Admins choose among the
// supervisors and up; supervisors see the choice.
import { MailOutlined } from '@ant-design/icons';
import { Button, Card, Form, Select, Space, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useEffect, useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { useConsole, type ConsoleStore } from '../../state/store';
import { describe } from '../../ui/errors';
import { atLeast } from '../../ui/roles';

type Settings = components['schemas']['ReportSettings'];

export function ReportsCard({ store, canEdit }: { store: ConsoleStore; canEdit: boolean }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const members = useConsole(store, (s) => s.members);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [daily, setDaily] = useState<string[]>([]);
  const [weekly, setWeekly] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);

  const show = (s: Settings) => {
    setSettings(s);
    setDaily(s.daily.recipients);
    setWeekly(s.weekly.recipients);
  };

  useEffect(() => {
    call(api.GET('/api/v1/analytics/reports')).then(show).catch((e: unknown) => message.error(describe(e, t)));
  }, [message, t]);

  async function save() {
    setSaving(true);
    setErrors({});
    try {
      show(await call(api.PUT('/api/v1/analytics/reports', { body: { daily, weekly } })));
      message.success(t('common.saved'));
    } catch (e) {
      if (e instanceof ApiError && e.fields.length > 0) {
        // `weekly[1]`: the list's field, with who it is.
        setErrors(Object.fromEntries(e.fields.map((f) => {
          const [list, index] = [f.field.replace(/\[\d+\]$/, ''), Number(/\[(\d+)\]$/.exec(f.field)?.[1] ?? -1)];
          const who = (list === 'daily' ? daily : weekly)[index];
          const name = members.find((m) => m.user_id === who)?.display_name;
          return [list, name ? `${name}: ${t('analytics.reports.notAllowed')}` : t('analytics.reports.notAllowed')];
        })));
      } else message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  const eligible = members.filter((m) => atLeast(m.role, 'supervisor')).map((m) => ({ value: m.user_id, label: m.display_name }));
  const next = (at?: string | null) =>
    at ? t('analytics.reports.next', { time: new Date(at).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' }) }) : t('analytics.reports.off');

  return (
    <Card size="small" title={<Space><MailOutlined />{t('analytics.reports.title')}</Space>} data-testid="analytics-reports">
      <Typography.Paragraph type="secondary">
        {t('analytics.reports.help', { zone: settings?.timezone ?? 'UTC' })}
      </Typography.Paragraph>
      <Form layout="vertical" disabled={!canEdit || !settings}>
        <Form.Item label={t('analytics.reports.daily')} extra={next(settings?.daily.next_at)}
          validateStatus={errors.daily ? 'error' : undefined} help={errors.daily}>
          <Select mode="multiple" value={daily} onChange={setDaily} options={eligible} optionFilterProp="label"
            placeholder={t('analytics.reports.nobody')} data-testid="reports-daily" aria-label={t('analytics.reports.daily')} />
        </Form.Item>
        <Form.Item label={t('analytics.reports.weekly')} extra={next(settings?.weekly.next_at)}
          validateStatus={errors.weekly ? 'error' : undefined} help={errors.weekly}>
          <Select mode="multiple" value={weekly} onChange={setWeekly} options={eligible} optionFilterProp="label"
            placeholder={t('analytics.reports.nobody')} data-testid="reports-weekly" aria-label={t('analytics.reports.weekly')} />
        </Form.Item>
        {canEdit && <Button type="primary" loading={saving} onClick={() => void save()} data-testid="reports-save">{t('common.save')}</Button>}
      </Form>
    </Card>
  );
}
