// Teams (F3/F17): named groups of members; a conversation transferred to a team waits in its
// queue. Admins manage them; members' capacity and skills are edited on the members page.
import { Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';

type TeamRow = components['schemas']['TeamView'];

type MemberName = Pick<components['schemas']['MemberView'], 'user_id' | 'display_name'>;

export function TeamsPage() {
  const { t } = useI18n();
  const { message } = useApp();
  const [teams, setTeams] = useState<TeamRow[]>([]);
  const [members, setMembers] = useState<MemberName[]>([]);
  const [editing, setEditing] = useState<TeamRow | 'new'>();
  const [form] = Form.useForm<{ name: string; user_ids: string[] }>();

  const load = useCallback(async () => {
    const [found, people] = await Promise.all([call(api.GET('/api/v1/teams')), call(api.GET('/api/v1/members'))]);
    setTeams(found);
    setMembers(people.map((m) => ({ user_id: m.user_id, display_name: m.display_name })));
  }, []);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  const names = new Map(members.map((m) => [m.user_id, m.display_name]));

  async function save(values: { name: string; user_ids: string[] }) {
    try {
      let id: string;
      if (editing === 'new') {
        const created = await call(api.POST('/api/v1/teams', { body: { name: values.name.trim() } }));
        id = created.id;
      } else if (editing) {
        id = editing.id;
        if (values.name.trim() !== editing.name) await call(api.PATCH('/api/v1/teams/{team_id}', { params: { path: { team_id: id } }, body: { name: values.name.trim() } }));
      } else return;
      await call(api.PUT('/api/v1/teams/{team_id}/members', { params: { path: { team_id: id } }, body: { user_ids: values.user_ids ?? [] } }));
      setEditing(undefined);
      await load();
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['name', 'user_ids'])) message.error(describe(e, t));
    }
  }

  return (
    <Card title={t('nav.teams')} className="page"
      extra={<Button type="primary" data-testid="team-new" onClick={() => { form.resetFields(); setEditing('new'); }}>{t('teams.new')}</Button>}>
      <Table<TeamRow> size="small" rowKey="id" dataSource={teams} pagination={false} scroll={{ x: true }} data-testid="teams-table"
        columns={[
          { title: t('teams.name'), dataIndex: 'name' },
          { title: t('nav.members'), dataIndex: 'user_ids', render: (ids: string[]) => ids.map((id) => <Tag key={id}>{names.get(id) ?? id}</Tag>) },
          {
            title: '', key: 'actions',
            render: (_, team) => (
              <Space>
                <Button size="small" onClick={() => { form.setFieldsValue({ name: team.name, user_ids: team.user_ids }); setEditing(team); }}>{t('common.edit')}</Button>
                <Popconfirm title={t('teams.deleteConfirm')} okText={t('common.remove')} cancelText={t('common.cancel')}
                  onConfirm={() => call(api.DELETE('/api/v1/teams/{team_id}', { params: { path: { team_id: team.id } } })).then(load, (e: unknown) => message.error(describe(e, t)))}>
                  <Button size="small" danger>{t('common.remove')}</Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]} />
      <Modal open={editing !== undefined} title={editing === 'new' ? t('teams.new') : t('common.edit')} onCancel={() => setEditing(undefined)}
        onOk={() => form.submit()} okText={t('common.save')} cancelText={t('common.cancel')}>
        <Form form={form} layout="vertical" onFinish={save}>
          <Form.Item name="name" label={t('teams.name')} rules={[{ required: true, max: 80 }]}><Input data-testid="team-name" /></Form.Item>
          <Form.Item name="user_ids" label={t('nav.members')}>
            <Select mode="multiple" optionFilterProp="label" options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
