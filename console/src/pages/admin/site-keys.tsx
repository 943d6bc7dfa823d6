// Site keys (F7): the public keys that embed the widget, with the snippet to paste, created and
// revoked here. Allowed origins are part of the widget settings (the widget editor).
import { Button, Card, Form, Input, Popconfirm, Table, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { useEdgeUrl } from './widget-preview';

type SiteKeyRow = components['schemas']['SiteKeyView'];

export function SiteKeysPage() {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [keys, setKeys] = useState<SiteKeyRow[]>([]);
  const [form] = Form.useForm<{ label: string }>();
  const edge = useEdgeUrl();

  const load = useCallback(async () => setKeys(await call(api.GET('/api/v1/site-keys'))), []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function create({ label }: { label: string }) {
    try {
      await call(api.POST('/api/v1/site-keys', { body: { label: label.trim() } }));
      form.resetFields();
      await load();
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  return (
    <Card title={t('nav.siteKeys')} className="page">
      <Typography.Paragraph type="secondary">{t('siteKeys.intro')}</Typography.Paragraph>
      <Form form={form} layout="inline" onFinish={create} style={{ marginBottom: 16 }}>
        <Form.Item name="label" rules={[{ required: true, max: 80, message: t('field.required') }]}>
          <Input placeholder={t('siteKeys.label')} aria-label={t('siteKeys.label')} />
        </Form.Item>
        <Button type="primary" htmlType="submit">{t('siteKeys.create')}</Button>
      </Form>
      <Table<SiteKeyRow> size="small" rowKey="site_key" dataSource={keys} pagination={false} scroll={{ x: true }}
        columns={[
          { title: t('siteKeys.label'), dataIndex: 'label' },
          {
            title: t('siteKeys.snippet'), dataIndex: 'site_key',
            render: (key: string) => (
              <Typography.Text code copyable className="snippet">{`<script async src="${edge ?? ''}/w/${key}.js"></script>`}</Typography.Text>
            ),
          },
          { title: t('common.created'), dataIndex: 'created_at', render: (at: string) => new Date(at).toLocaleDateString(lang) },
          {
            title: '', key: 'revoke',
            render: (_, k) => (
              <Popconfirm title={t('siteKeys.revokeConfirm')} okText={t('members.revoke')} cancelText={t('common.cancel')}
                onConfirm={() => call(api.DELETE('/api/v1/site-keys/{site_key}', { params: { path: { site_key: k.site_key } } })).then(load, (e: unknown) => message.error(describe(e, t)))}>
                <Button size="small" danger>{t('members.revoke')}</Button>
              </Popconfirm>
            ),
          },
        ]} />
    </Card>
  );
}
