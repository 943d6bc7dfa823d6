// API keys (F4, issue 17): a role, scopes, an owner (a member's key acts as them and ends when they
// leave; the workspace's stays) and an optional expiry; shown once at creation, revocable.
import { Alert, Button, Card, Checkbox, Form, Input, Popconfirm, Radio, Select, Space, Table, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import type { StoredSession } from '../../auth/session';
import { useI18n, type Key } from '../../i18n';
import { describe } from '../../ui/errors';
import { grantable } from '../../ui/roles';

type ApiKeyRow = components['schemas']['ApiKeyView'];
type Scope = components['schemas']['Scope'];
type Owner = components['schemas']['KeyOwner'];

const SCOPES: readonly Scope[] = ['conversations:read', 'conversations:write', 'messages:write', 'analytics:read', 'feed:read', 'admin'];
/** Expiry choices, in days (0: never). */
const LIFETIMES = [0, 30, 90, 365] as const;

interface Values {
  name: string;
  role: string;
  scopes: Scope[];
  owner: Owner;
  days: number;
}

export function ApiKeysPage({ session }: { session: StoredSession }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [keys, setKeys] = useState<ApiKeyRow[]>([]);
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [secret, setSecret] = useState<string>();
  const [form] = Form.useForm<Values>();

  const load = useCallback(async () => {
    const [found, members] = await Promise.all([call(api.GET('/api/v1/api-keys')), call(api.GET('/api/v1/members'))]);
    setKeys(found);
    setNames(new Map(members.map((m) => [m.user_id, m.display_name])));
  }, []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function create(values: Values) {
    try {
      const expires_at = values.days > 0 ? new Date(Date.now() + values.days * 86_400_000).toISOString() : null;
      const body = { name: values.name.trim(), role: values.role, scopes: values.scopes, owner: values.owner, expires_at };
      const created = await call(api.POST('/api/v1/api-keys', { body }));
      setSecret(created.secret);
      form.resetFields();
      await load();
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const when = (at: string | null | undefined) => (at ? new Date(at).toLocaleString(lang) : '—');
  return (
    <Card title={t('nav.apiKeys')} className="page">
      {secret && (
        <Alert type="success" showIcon closable onClose={() => setSecret(undefined)} style={{ marginBottom: 16 }}
          title={t('apiKeys.shownOnce')} description={<Typography.Text code copyable data-testid="api-key-secret">{secret}</Typography.Text>} />
      )}
      <Form form={form} layout="vertical" onFinish={create} style={{ marginBottom: 16, maxWidth: 720 }}
        initialValues={{ role: 'agent', scopes: [...SCOPES], owner: 'member', days: 0 }}>
        <Space wrap align="start">
          <Form.Item name="name" label={t('apiKeys.name')} rules={[{ required: true, max: 80, message: t('field.required') }]}>
            <Input aria-label={t('apiKeys.name')} style={{ width: 240 }} />
          </Form.Item>
          <Form.Item name="role" label={t('members.role')}>
            <Select style={{ width: 140 }} aria-label={t('members.role')} options={grantable(session.role).map((r) => ({ value: r, label: t(`role.${r}` as Key) }))} />
          </Form.Item>
          <Form.Item name="days" label={t('apiKeys.expires')}>
            <Select style={{ width: 140 }} aria-label={t('apiKeys.expires')} data-testid="api-key-expiry"
              options={LIFETIMES.map((d) => ({ value: d, label: d === 0 ? t('apiKeys.never') : t('apiKeys.days', { days: d }) }))} />
          </Form.Item>
        </Space>
        <Form.Item name="scopes" label={t('apiKeys.scopes')} rules={[{ required: true, type: 'array', min: 1, message: t('apiKeys.scopesRequired') }]}>
          <Checkbox.Group data-testid="api-key-scopes" options={SCOPES.map((s) => ({ value: s, label: <span title={t(`apiKeys.scope.${s}` as Key)}><Typography.Text code>{s}</Typography.Text> {t(`apiKeys.scope.${s}` as Key)}</span> }))} />
        </Form.Item>
        <Form.Item name="owner" label={t('apiKeys.owner')}>
          <Radio.Group data-testid="api-key-owner" options={[
            { value: 'member', label: t('apiKeys.ownerMember') },
            { value: 'tenant', label: t('apiKeys.ownerTenant') },
          ]} />
        </Form.Item>
        <Button type="primary" htmlType="submit" data-testid="api-key-create">{t('apiKeys.create')}</Button>
      </Form>
      <Table<ApiKeyRow> size="small" rowKey="id" dataSource={keys} pagination={false} scroll={{ x: true }} data-testid="api-keys"
        columns={[
          { title: t('apiKeys.name'), dataIndex: 'name' },
          { title: t('members.role'), dataIndex: 'role', render: (r: string) => <Tag>{t(`role.${r}` as Key)}</Tag> },
          { title: t('apiKeys.scopes'), dataIndex: 'scopes', render: (scopes: Scope[]) => scopes.map((s) => <Tag key={s}>{s}</Tag>) },
          {
            title: t('apiKeys.owner'), key: 'owner',
            render: (_, k) => (k.owner === 'tenant' ? t('apiKeys.workspace') : (k.created_by && names.get(k.created_by)) || '—'),
          },
          {
            title: t('apiKeys.expires'), dataIndex: 'expires_at',
            render: (at?: string | null) => (at && new Date(at) < new Date() ? <Tag color="red">{t('apiKeys.expired')}</Tag> : when(at)),
          },
          { title: t('apiKeys.lastUsed'), dataIndex: 'last_used_at', render: when },
          { title: t('apiKeys.prefix'), dataIndex: 'prefix', render: (p: string) => <Typography.Text code>{p}…</Typography.Text> },
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
