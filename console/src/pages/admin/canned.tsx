// Canned responses (F15): shortcuts agents insert by typing `/shortcut` in a reply. Supervisors
// and admins manage them; everyone uses them.
import { Button, Card, Form, Input, Modal, Popconfirm, Space, Table, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';

type CannedRow = components['schemas']['CannedResponseView'];

type Values = Pick<CannedRow, 'shortcut' | 'title' | 'body'>;

export function CannedPage() {
  const { t } = useI18n();
  const { message } = useApp();
  const [rows, setRows] = useState<CannedRow[]>([]);
  const [query, setQuery] = useState('');
  const [editing, setEditing] = useState<CannedRow | 'new'>();
  const [form] = Form.useForm<Values>();

  const load = useCallback(async () => {
    const found = await call(api.GET('/api/v1/canned-responses', { params: { query: query ? { q: query } : {} } }));
    setRows(found);
  }, [query]);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function save(values: Values) {
    try {
      const body = { shortcut: values.shortcut.trim(), title: values.title?.trim() ?? '', body: values.body.trim() };
      if (editing === 'new') await call(api.POST('/api/v1/canned-responses', { body }));
      else if (editing) await call(api.PATCH('/api/v1/canned-responses/{canned_id}', { params: { path: { canned_id: editing.id } }, body }));
      setEditing(undefined);
      await load();
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['shortcut', 'title', 'body'])) message.error(describe(e, t));
    }
  }

  return (
    <Card title={t('nav.canned')} className="page"
      extra={<Button type="primary" data-testid="canned-new" onClick={() => { form.resetFields(); setEditing('new'); }}>{t('canned.new')}</Button>}>
      <Input.Search allowClear placeholder={t('canned.search')} onSearch={setQuery} style={{ maxWidth: 320, marginBottom: 16 }} />
      <Table<CannedRow> size="small" rowKey="id" dataSource={rows} pagination={{ pageSize: 50, hideOnSinglePage: true }} scroll={{ x: true }} data-testid="canned-table"
        columns={[
          { title: t('canned.shortcut'), dataIndex: 'shortcut', render: (s: string) => <Typography.Text code>/{s}</Typography.Text> },
          { title: t('canned.title'), dataIndex: 'title' },
          { title: t('canned.body'), dataIndex: 'body', render: (b: string) => <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ margin: 0, maxWidth: 420 }}>{b}</Typography.Paragraph> },
          {
            title: '', key: 'actions',
            render: (_, row) => (
              <Space>
                <Button size="small" onClick={() => { form.setFieldsValue(row); setEditing(row); }}>{t('common.edit')}</Button>
                <Popconfirm title={t('canned.deleteConfirm')} okText={t('common.remove')} cancelText={t('common.cancel')}
                  onConfirm={() => call(api.DELETE('/api/v1/canned-responses/{canned_id}', { params: { path: { canned_id: row.id } } })).then(load, (e: unknown) => message.error(describe(e, t)))}>
                  <Button size="small" danger>{t('common.remove')}</Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]} />
      <Modal open={editing !== undefined} title={editing === 'new' ? t('canned.new') : t('common.edit')} onCancel={() => setEditing(undefined)}
        onOk={() => form.submit()} okText={t('common.save')} cancelText={t('common.cancel')} okButtonProps={{ id: 'canned-save' }}>
        <Form form={form} layout="vertical" onFinish={save}>
          <Form.Item name="shortcut" label={t('canned.shortcut')} extra={t('canned.shortcutHelp')}
            rules={[{ required: true, pattern: /^[a-zA-Z0-9_-]{1,32}$/, message: t('canned.shortcutHelp') }]}>
            <Input prefix="/" data-testid="canned-shortcut" />
          </Form.Item>
          <Form.Item name="title" label={t('canned.title')} rules={[{ max: 80 }]}><Input data-testid="canned-title" /></Form.Item>
          <Form.Item name="body" label={t('canned.body')} rules={[{ required: true, max: 4000 }]}>
            <Input.TextArea autoSize={{ minRows: 3, maxRows: 10 }} data-testid="canned-body" />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
