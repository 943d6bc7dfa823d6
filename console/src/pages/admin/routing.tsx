// Routing (F19/F20): whether new and waiting conversations are assigned automatically, how an
// agent is chosen, and the team that takes conversations without one. Admins edit; the engine
// assigns what is waiting as soon as this is saved.
import { App, Button, Card, Form, Radio, Select, Switch, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';

interface RoutingForm {
  auto_assign: boolean;
  strategy: 'least_busy' | 'round_robin';
  default_team_id?: string | null;
}

export function RoutingPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<RoutingForm>();
  const [teams, setTeams] = useState<{ id: string; name: string }[]>([]);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    Promise.all([call(api.GET('/api/v1/routing')), call(api.GET('/api/v1/teams'))])
      .then(([settings, found]) => {
        form.setFieldsValue({ ...settings, default_team_id: settings.default_team_id ?? undefined });
        setTeams(found.map((team) => ({ id: team.id, name: team.name })));
      })
      .catch((e: unknown) => message.error(describe(e, t)));
  }, [form, message, t]);

  async function save(values: RoutingForm) {
    setSaving(true);
    try {
      await call(api.PUT('/api/v1/routing', { body: { ...values, default_team_id: values.default_team_id ?? null } }));
      message.success(t('routing.saved'));
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['auto_assign', 'strategy', 'default_team_id'])) message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  return (
    <Card title={t('nav.routing')} className="page">
      <Typography.Paragraph type="secondary">{t('routing.intro')}</Typography.Paragraph>
      <Form form={form} layout="vertical" onFinish={save} data-testid="routing-form" style={{ maxWidth: 560 }}>
        <Form.Item name="auto_assign" label={t('routing.autoAssign')} valuePropName="checked" extra={t('routing.autoAssignHelp')}>
          <Switch data-testid="routing-auto-assign" />
        </Form.Item>
        <Form.Item name="strategy" label={t('routing.strategy')}>
          <Radio.Group>
            <Radio value="least_busy">{t('routing.leastBusy')}</Radio>
            <Radio value="round_robin">{t('routing.roundRobin')}</Radio>
          </Radio.Group>
        </Form.Item>
        <Form.Item name="default_team_id" label={t('routing.defaultTeam')} extra={t('routing.defaultTeamHelp')}>
          <Select allowClear placeholder={t('routing.anyone')} options={teams.map((team) => ({ value: team.id, label: team.name }))} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={saving} data-testid="routing-save">{t('common.save')}</Button>
      </Form>
    </Card>
  );
}
