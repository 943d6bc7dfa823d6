// Members and invitations (F3): roles, removal, profile (工号, capacity, skills), and inviting by
// email with a role; pending invitations can be revoked.
import { Button, Card, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import type { StoredSession } from '../../auth/session';
import { useI18n, type Key } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { grantable } from '../../ui/roles';
import { TwoFactorRequirement } from './two-factor-requirement';

type MemberRow = components['schemas']['MemberView'];

type InvitationRow = components['schemas']['InvitationView'];

const roleKey = (role: string) => `role.${role}` as Key;

export function MembersPage({ session }: { session: StoredSession }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [members, setMembers] = useState<MemberRow[]>([]);
  const [invitations, setInvitations] = useState<InvitationRow[]>([]);
  const [editing, setEditing] = useState<MemberRow>();
  const [inviteForm] = Form.useForm<{ email: string; role: string }>();
  const [profileForm] = Form.useForm<{ display_name: string; employee_no?: string; max_concurrent_chats: number; skills: string[] }>();
  const roles = grantable(session.role);

  const load = useCallback(async () => {
    const [m, i] = await Promise.all([call(api.GET('/api/v1/members')), call(api.GET('/api/v1/invitations'))]);
    setMembers(m);
    setInvitations(i);
  }, []);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function act(work: () => Promise<unknown>, done?: string) {
    try {
      await work();
      if (done) message.success(done);
      await load();
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  async function invite(values: { email: string; role: string }) {
    try {
      await call(api.POST('/api/v1/invitations', { body: { email: values.email.trim(), role: values.role } }));
      message.success(t('members.invited', { email: values.email.trim() }));
      inviteForm.resetFields();
      await load();
    } catch (e) {
      if (!showFieldErrors(inviteForm, e, t, ['email', 'role'])) message.error(describe(e, t));
    }
  }

  async function saveProfile(values: { display_name: string; employee_no?: string; max_concurrent_chats: number; skills: string[] }) {
    if (!editing) return;
    try {
      await call(api.PATCH('/api/v1/members/{user_id}/profile', {
        params: { path: { user_id: editing.user_id } },
        body: { display_name: values.display_name.trim(), employee_no: values.employee_no?.trim() || null, max_concurrent_chats: values.max_concurrent_chats, skills: values.skills },
      }));
      setEditing(undefined);
      await load();
    } catch (e) {
      if (!showFieldErrors(profileForm, e, t, ['display_name', 'employee_no', 'max_concurrent_chats', 'skills'])) message.error(describe(e, t));
    }
  }

  return (
    <Space direction="vertical" size={16} className="page">
      <Card title={t('members.invite')}>
        <Form form={inviteForm} layout="inline" onFinish={invite} initialValues={{ role: 'agent' }} className="invite-form">
          <Form.Item name="email" rules={[{ required: true, type: 'email', message: t('field.invalid_email') }]}>
            <Input placeholder={t('field.email')} aria-label={t('field.email')} data-testid="invite-email" style={{ minWidth: 220 }} />
          </Form.Item>
          <Form.Item name="role">
            <Select aria-label={t('members.role')} style={{ width: 140 }} options={roles.map((r) => ({ value: r, label: t(roleKey(r)) }))} />
          </Form.Item>
          <Button type="primary" htmlType="submit" data-testid="invite-submit">{t('members.sendInvite')}</Button>
        </Form>
      </Card>
      <Card title={t('members.title')}>
        <Table<MemberRow> size="small" rowKey="user_id" dataSource={members} pagination={false} scroll={{ x: true }} data-testid="members"
          columns={[
            { title: t('members.name'), dataIndex: 'display_name', render: (name: string, m) => <Space direction="vertical" size={0}><Typography.Text strong>{name}</Typography.Text><Typography.Text type="secondary">{m.email}</Typography.Text></Space> },
            {
              title: t('members.role'), dataIndex: 'role',
              render: (role: string, m) => role === 'owner' || m.user_id === session.user.id || !roles.includes(role as 'agent') ? <Tag>{t(roleKey(role))}</Tag> : (
                <Select size="small" value={role} style={{ width: 130 }} aria-label={t('members.role')}
                  onChange={(next: string) => void act(() => call(api.PATCH('/api/v1/members/{user_id}', { params: { path: { user_id: m.user_id } }, body: { role: next } })))}
                  options={roles.map((r) => ({ value: r, label: t(roleKey(r)) }))} />
              ),
            },
            { title: t('members.twoFactor'), dataIndex: 'two_factor', render: (on: boolean) => <Tag color={on ? 'green' : 'default'}>{on ? t('members.twoFactorOn') : t('members.twoFactorOff')}</Tag> },
            { title: t('members.capacity'), dataIndex: 'max_concurrent_chats' },
            { title: t('members.skills'), dataIndex: 'skills', render: (skills: string[]) => skills.map((s) => <Tag key={s}>{s}</Tag>) },
            {
              title: '', key: 'actions',
              render: (_, m) => (
                <Space>
                  <Button size="small" onClick={() => {
                    setEditing(m);
                    profileForm.setFieldsValue({ display_name: m.display_name, employee_no: m.employee_no ?? '', max_concurrent_chats: m.max_concurrent_chats, skills: m.skills });
                  }}>{t('common.edit')}</Button>
                  {m.role !== 'owner' && m.user_id !== session.user.id && (
                    <Popconfirm title={t('members.removeConfirm', { name: m.display_name })} okText={t('common.remove')} cancelText={t('common.cancel')}
                      onConfirm={() => act(() => call(api.DELETE('/api/v1/members/{user_id}', { params: { path: { user_id: m.user_id } } })))}>
                      <Button size="small" danger>{t('common.remove')}</Button>
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]} />
      </Card>
      <TwoFactorRequirement members={members} onChanged={() => void load()} />
      <Card title={t('members.pending')}>
        <Table<InvitationRow> size="small" rowKey="id" dataSource={invitations} pagination={false} data-testid="invitations"
          locale={{ emptyText: t('members.noPending') }}
          columns={[
            { title: t('field.email'), dataIndex: 'email' },
            { title: t('members.role'), dataIndex: 'role', render: (r: string) => t(roleKey(r)) },
            { title: t('members.expires'), dataIndex: 'expires_at', render: (at: string, i) => i.expired ? <Tag color="red">{t('members.expired')}</Tag> : new Date(at).toLocaleDateString(lang) },
            {
              title: '', key: 'revoke',
              render: (_, i) => <Button size="small" onClick={() => void act(() => call(api.DELETE('/api/v1/invitations/{id}', { params: { path: { id: i.id } } })))}>{t('members.revoke')}</Button>,
            },
          ]} />
      </Card>
      <Modal open={!!editing} title={editing?.display_name} onCancel={() => setEditing(undefined)} onOk={() => profileForm.submit()} okText={t('common.save')} cancelText={t('common.cancel')}>
        <Form form={profileForm} layout="vertical" onFinish={saveProfile}>
          <Form.Item name="display_name" label={t('members.name')} rules={[{ required: true, max: 80 }]}><Input /></Form.Item>
          <Form.Item name="employee_no" label={t('members.employeeNo')} rules={[{ max: 40 }]}><Input /></Form.Item>
          <Form.Item name="max_concurrent_chats" label={t('members.capacity')} rules={[{ required: true }]}><InputNumber min={1} max={100} /></Form.Item>
          <Form.Item name="skills" label={t('members.skills')}><Select mode="tags" tokenSeparators={[',', '，']} maxCount={20} /></Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}
