// API keys (F4): scoped to a role, shown once at creation, revocable.
import { Alert, Button, Card, Form, Input, Popconfirm, Select, Table, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { StoredSession } from '../../auth/session';
import { useI18n, type Key } from '../../i18n';
import { describe } from '../../ui/errors';
import { grantable } from '../../ui/roles';

interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  prefix: string;
  created_at: string;
  last_used_at?: string | null;
}

export function ApiKeysPage({ session }: { session: StoredSession }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [keys, setKeys] = useState<ApiKeyRow[]>([]);
  const [secret, setSecret] = useState<string>();
  const [form] = Form.useForm<{ name: string; role: string }>();

  const load = useCallback(async () => setKeys((await call(api.GET('/api/v1/api-keys'))) as unknown as ApiKeyRow[]), []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function create(values: { name: string; role: string }) {
    try {
      const created = await call(api.POST('/api/v1/api-keys', { body: { name: values.name.trim(), role: values.role } }));
      setSecret(created.secret);
      form.resetFields();
      await load();
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  return (
    <Card title={t('nav.apiKeys')} className="page">
      {secret && (
        <Alert type="success" showIcon closable onClose={() => setSecret(undefined)} style={{ marginBottom: 16 }}
          title={t('apiKeys.shownOnce')} description={<Typography.Text code copyable data-testid="api-key-secret">{secret}</Typography.Text>} />
      )}
      <Form form={form} layout="inline" onFinish={create} initialValues={{ role: 'agent' }} style={{ marginBottom: 16 }}>
        <Form.Item name="name" rules={[{ required: true, max: 80, message: t('field.required') }]}>
          <Input placeholder={t('apiKeys.name')} aria-label={t('apiKeys.name')} />
        </Form.Item>
        <Form.Item name="role">
          <Select style={{ width: 140 }} aria-label={t('members.role')} options={grantable(session.role).map((r) => ({ value: r, label: t(`role.${r}` as Key) }))} />
        </Form.Item>
        <Button type="primary" htmlType="submit">{t('apiKeys.create')}</Button>
      </Form>
      <Table<ApiKeyRow> size="small" rowKey="id" dataSource={keys} pagination={false} scroll={{ x: true }}
        columns={[
          { title: t('apiKeys.name'), dataIndex: 'name' },
          { title: t('members.role'), dataIndex: 'role', render: (r: string) => <Tag>{t(`role.${r}` as Key)}</Tag> },
          { title: t('apiKeys.prefix'), dataIndex: 'prefix', render: (p: string) => <Typography.Text code>{p}…</Typography.Text> },
          { title: t('apiKeys.lastUsed'), dataIndex: 'last_used_at', render: (at?: string | null) => (at ? new Date(at).toLocaleString(lang) : '—') },
          {
            title: '', key: 'revoke',
            render: (_, k) => (
              <Popconfirm title={t('apiKeys.revokeConfirm')} okText={t('members.revoke')} cancelText={t('common.cancel')}
                onConfirm={() => call(api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: k.id } } })).then(load, (e: unknown) => message.error(describe(e, t)))}>
                <Button size="small" danger>{t('members.revoke')}</Button>
              </Popconfirm>
            ),
          },
        ]} />
    </Card>
  );
}
