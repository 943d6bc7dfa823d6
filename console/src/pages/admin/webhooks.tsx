// Outgoing webhooks (issue 17): the workspace's endpoints (URL, event types, secret with
// rotation, enabled or not, a test event) and the delivery log with replay (docs/api.md, "Webhooks").
import { Button, Card, Checkbox, Form, Input, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { useApp } from '../../ui/app';
import { describe } from '../../ui/errors';

type Endpoint = components['schemas']['WebhookEndpoint'];
type Delivery = components['schemas']['WebhookDelivery'];
type Status = components['schemas']['DeliveryStatus'];

interface EndpointForm {
  url: string;
  description?: string;
  event_types?: string[];
}

const STATUS_COLOR: Record<Status, string> = { pending: 'gold', succeeded: 'green', failed: 'red' };

export function WebhooksPage() {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [types, setTypes] = useState<string[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [filter, setFilter] = useState<{ endpoint?: string; status?: Status }>({});
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<Delivery | null>(null);
  const [form] = Form.useForm<EndpointForm>();

  const loadEndpoints = useCallback(async () => {
    setEndpoints((await call(api.GET('/api/v1/webhooks/endpoints'))).items);
  }, []);
  const loadDeliveries = useCallback(async (before?: string) => {
    const page = await call(api.GET('/api/v1/webhooks/deliveries', {
      params: { query: { endpoint_id: filter.endpoint, status: filter.status, before } },
    }));
    setDeliveries((old) => (before ? [...old, ...page.items] : page.items));
    setNext(page.next ?? null);
  }, [filter]);

  useEffect(() => {
    Promise.all([
      loadEndpoints(),
      call(api.GET('/api/v1/webhooks/event-types')).then((r) => setTypes(r.items)),
    ]).catch((e: unknown) => message.error(describe(e, t)));
  }, [loadEndpoints, message, t]);
  useEffect(() => {
    loadDeliveries().catch((e: unknown) => message.error(describe(e, t)));
  }, [loadDeliveries, message, t]);

  const failed = (e: unknown) => message.error(describe(e, t));

  async function create(values: EndpointForm) {
    try {
      const created = await call(api.POST('/api/v1/webhooks/endpoints', {
        body: { url: values.url.trim(), description: values.description?.trim() ?? '', event_types: values.event_types ?? [] },
      }));
      form.resetFields();
      setSecret(created.secret);
      await loadEndpoints();
    } catch (e) {
      failed(e);
    }
  }

  async function act(promise: Promise<unknown>) {
    try {
      await promise;
      await Promise.all([loadEndpoints(), loadDeliveries()]);
    } catch (e) {
      failed(e);
    }
  }

  const path = (id: string) => ({ params: { path: { endpoint_id: id } } });

  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }} className="page">
      <Card title={t('nav.webhooks')}>
        <Typography.Paragraph type="secondary">{t('webhooks.intro')}</Typography.Paragraph>
        <Form form={form} layout="vertical" onFinish={create} style={{ maxWidth: 640, marginBottom: 16 }}>
          <Form.Item name="url" label={t('webhooks.url')} rules={[{ required: true, max: 2048, message: t('field.required') }]}>
            <Input placeholder="https://crm.example.com/kefu" aria-label={t('webhooks.url')} />
          </Form.Item>
          <Form.Item name="description" label={t('webhooks.description')} rules={[{ max: 200 }]}>
            <Input aria-label={t('webhooks.description')} />
          </Form.Item>
          <Form.Item name="event_types" label={t('webhooks.eventTypes')} extra={t('webhooks.allTypes')}>
            <Checkbox.Group options={types.map((type) => ({ label: type, value: type }))} />
          </Form.Item>
          <Button type="primary" htmlType="submit">{t('webhooks.create')}</Button>
        </Form>
        <Table<Endpoint> size="small" rowKey="id" dataSource={endpoints} pagination={false} scroll={{ x: true }}
          columns={[
            {
              title: t('webhooks.url'), dataIndex: 'url',
              render: (url: string, e) => (
                <Space direction="vertical" size={0}>
                  <Typography.Text code>{url}</Typography.Text>
                  {e.description && <Typography.Text type="secondary">{e.description}</Typography.Text>}
                </Space>
              ),
            },
            {
              title: t('webhooks.eventTypes'), dataIndex: 'event_types',
              render: (list: string[]) => (list.length === 0 ? t('webhooks.everyType') : list.map((x) => <Tag key={x}>{x}</Tag>)),
            },
            {
              title: t('webhooks.enabled'), dataIndex: 'enabled',
              render: (enabled: boolean, e) => (
                <Space>
                  <Switch checked={enabled} aria-label={t('webhooks.enabled')}
                    onChange={(on) => act(call(api.PATCH('/api/v1/webhooks/endpoints/{endpoint_id}', { ...path(e.id), body: { enabled: on } })))} />
                  {e.disabled_reason === 'failing' && <Tag color="red">{t('webhooks.disabledFailing')}</Tag>}
                </Space>
              ),
            },
            {
              title: t('webhooks.lastSuccess'), dataIndex: 'last_success_at',
              render: (at: string | null) => (at ? new Date(at).toLocaleString(lang) : '—'),
            },
            {
              title: '', key: 'actions',
              render: (_, e) => (
                <Space wrap>
                  <Button size="small" onClick={() => act(call(api.POST('/api/v1/webhooks/endpoints/{endpoint_id}/test', path(e.id))))}>
                    {t('webhooks.sendTest')}
                  </Button>
                  <Button size="small" onClick={() => call(api.GET('/api/v1/webhooks/endpoints/{endpoint_id}/secret', path(e.id))).then((s) => setSecret(s.secret), failed)}>
                    {t('webhooks.showSecret')}
                  </Button>
                  <Popconfirm title={t('webhooks.rotateConfirm')} okText={t('webhooks.rotate')} cancelText={t('common.cancel')}
                    onConfirm={() => call(api.POST('/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret', path(e.id))).then((s) => { setSecret(s.secret); return loadEndpoints(); }, failed)}>
                    <Button size="small">{t('webhooks.rotate')}</Button>
                  </Popconfirm>
                  <Popconfirm title={t('webhooks.deleteConfirm')} okText={t('webhooks.delete')} cancelText={t('common.cancel')}
                    onConfirm={() => act(call(api.DELETE('/api/v1/webhooks/endpoints/{endpoint_id}', path(e.id))))}>
                    <Button size="small" danger>{t('webhooks.delete')}</Button>
                  </Popconfirm>
                </Space>
              ),
            },
          ]} />
      </Card>

      <Card title={t('webhooks.deliveries')}
        extra={<Button size="small" onClick={() => loadDeliveries().catch(failed)}>{t('webhooks.refresh')}</Button>}>
        <Space style={{ marginBottom: 12 }} wrap>
          <Select allowClear style={{ minWidth: 240 }} placeholder={t('webhooks.allEndpoints')} aria-label={t('webhooks.allEndpoints')}
            value={filter.endpoint} onChange={(endpoint?: string) => setFilter((f) => ({ ...f, endpoint }))}
            options={endpoints.map((e) => ({ value: e.id, label: e.url }))} />
          <Select<Status> allowClear style={{ minWidth: 160 }} placeholder={t('webhooks.allStatuses')} aria-label={t('webhooks.allStatuses')}
            value={filter.status} onChange={(status?: Status) => setFilter((f) => ({ ...f, status }))}
            options={(['pending', 'succeeded', 'failed'] as const).map((s) => ({ value: s, label: t(`webhooks.status.${s}`) }))} />
        </Space>
        <Table<Delivery> size="small" rowKey="id" dataSource={deliveries} pagination={false} scroll={{ x: true }}
          className="webhook-deliveries"
          onRow={(d) => ({ onClick: () => setOpen(d) })}
          columns={[
            { title: t('webhooks.event'), dataIndex: 'event_type' },
            { title: t('webhooks.statusLabel'), dataIndex: 'status', render: (s: Status) => <Tag color={STATUS_COLOR[s]}>{t(`webhooks.status.${s}`)}</Tag> },
            { title: t('webhooks.attempts'), dataIndex: 'attempts' },
            { title: t('webhooks.response'), dataIndex: 'response_status', render: (code: number | null, d) => code ?? d.error ?? '—' },
            { title: t('common.created'), dataIndex: 'created_at', render: (at: string) => new Date(at).toLocaleString(lang) },
            {
              title: '', key: 'replay',
              render: (_, d) => (
                <Button size="small" onClick={(event) => { event.stopPropagation(); void act(call(api.POST('/api/v1/webhooks/deliveries/{delivery_id}/replay', { params: { path: { delivery_id: d.id } } }))); }}>
                  {t('webhooks.replay')}
                </Button>
              ),
            },
          ]} />
        {next && <Button style={{ marginTop: 12 }} onClick={() => loadDeliveries(next).catch(failed)}>{t('webhooks.older')}</Button>}
      </Card>

      <Modal open={secret !== null} title={t('webhooks.secret')} onCancel={() => setSecret(null)} footer={null}>
        <Typography.Paragraph>{t('webhooks.secretHelp')}</Typography.Paragraph>
        <Typography.Text code copyable>{secret}</Typography.Text>
      </Modal>
      <Modal open={open !== null} title={open?.event_type} onCancel={() => setOpen(null)} footer={null} width={720}>
        {open && (
          <Space direction="vertical" style={{ width: '100%' }}>
            <Typography.Text type="secondary">webhook-id: {open.event_id}</Typography.Text>
            <Typography.Text strong>{t('webhooks.payload')}</Typography.Text>
            <pre className="snippet">{JSON.stringify(open.payload, null, 2)}</pre>
            {open.response_body && (<>
              <Typography.Text strong>{t('webhooks.responseBody')}</Typography.Text>
              <pre className="snippet">{open.response_body}</pre>
            </>)}
          </Space>
        )}
      </Modal>
    </Space>
  );
}
