// Routing (F19/F20): whether new and waiting conversations are assigned automatically, how an
// agent is chosen, the team that takes conversations without one, and priorities by tag. Admins edit; the engine
// assigns what is waiting as soon as this is saved.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Card, Form, Input, InputNumber, Radio, Select, Space, Switch, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';

interface RoutingForm {
  auto_assign: boolean;
  strategy: 'least_busy' | 'round_robin';
  default_team_id?: string | null;
  tags?: { tag: string; priority: number }[];
}

export function RoutingPage() {
  const { t } = useI18n();
  const { message } = useApp();
  const [form] = Form.useForm<RoutingForm>();
  const [teams, setTeams] = useState<{ id: string; name: string }[]>([]);
  const [saving, setSaving] = useState(false);
  // Editable only once the saved settings are in: a change made earlier would be overwritten.
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    Promise.all([call(api.GET('/api/v1/routing')), call(api.GET('/api/v1/teams'))])
      .then(([settings, found]) => {
        const tags = Object.entries(settings.tag_priorities ?? {}).map(([tag, priority]) => ({ tag, priority }));
        form.setFieldsValue({ auto_assign: settings.auto_assign, strategy: settings.strategy, default_team_id: settings.default_team_id ?? undefined, tags });
        setTeams(found.map((team) => ({ id: team.id, name: team.name })));
        setLoaded(true);
      })
      .catch((e: unknown) => message.error(describe(e, t)));
  }, [form, message, t]);

  async function save(values: RoutingForm) {
    setSaving(true);
    try {
      const tag_priorities = Object.fromEntries((values.tags ?? []).filter((row) => row.tag?.trim()).map((row) => [row.tag.trim(), row.priority ?? 0]));
      await call(api.PUT('/api/v1/routing', {
        body: { auto_assign: values.auto_assign, strategy: values.strategy, default_team_id: values.default_team_id ?? null, tag_priorities },
      }));
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
      <Form form={form} layout="vertical" onFinish={save} data-testid="routing-form" style={{ maxWidth: 560 }} disabled={!loaded}>
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
        <Form.Item label={t('routing.tagPriorities')} extra={t('routing.tagPrioritiesHelp')}>
          <Form.List name="tags">
            {(fields, { add, remove }) => (
              <>
                {fields.map((field) => (
                  <Space key={field.key} align="baseline">
                    <Form.Item name={[field.name, 'tag']} rules={[{ required: true, message: t('field.required') }]}>
                      <Input placeholder={t('routing.tag')} maxLength={40} data-testid="routing-tag" />
                    </Form.Item>
                    <Form.Item name={[field.name, 'priority']} initialValue={50}>
                      <InputNumber min={0} max={100} aria-label={t('queue.priority')} data-testid="routing-tag-priority" />
                    </Form.Item>
                    <Button type="text" icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('common.remove')} />
                  </Space>
                ))}
                <Button type="dashed" onClick={() => add()} icon={<PlusOutlined />} disabled={fields.length >= 50} data-testid="routing-add-tag">
                  {t('routing.addTag')}
                </Button>
              </>
            )}
          </Form.List>
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={saving} data-testid="routing-save">{t('common.save')}</Button>
      </Form>
    </Card>
  );
}
