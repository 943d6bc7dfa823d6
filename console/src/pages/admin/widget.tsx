// The widget editor (F6): colours, logo, position, languages and their texts, the pre-chat and
// offline forms, allowed origins and identity verification, with a live preview of the real
// widget. Saving reaches visitors through the edge within its cache time (seconds).
import { Alert, Button, Card, Checkbox, ColorPicker, Col, Form, Input, Popconfirm, Radio, Row, Select, Space, Switch, Tabs, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import type { FormSettings, WidgetSettings } from '../../api/protocol';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { WidgetPreview } from './widget-preview';

const LANGUAGES = [
  { value: 'en', label: 'English' },
  { value: 'zh-CN', label: '简体中文' },
];
const EMPTY_TEXTS = { title: '', greeting: '', offline_message: '', input_placeholder: '' };

interface Loaded {
  settings: WidgetSettings;
  version: number;
  identity_secret: string | null;
  edge_url: string | null;
}

export function WidgetPage() {
  const { t } = useI18n();
  const { message } = useApp();
  const [form] = Form.useForm<WidgetSettings>();
  const [loaded, setLoaded] = useState<Loaded>();
  const [draft, setDraft] = useState<WidgetSettings>();
  const [problems, setProblems] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);

  const load = useCallback(async () => {
    const w = await call(api.GET('/api/v1/widget'));
    const next: Loaded = { settings: w.settings, version: w.version, identity_secret: w.identity_secret ?? null, edge_url: w.edge_url ?? null };
    setLoaded(next);
    setDraft(next.settings);
    form.setFieldsValue(next.settings);
  }, [form]);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  const languages = (Form.useWatch('languages', form) as string[] | undefined) ?? loaded?.settings.languages ?? [];

  function current(): WidgetSettings | undefined {
    if (!loaded) return undefined;
    const values = form.getFieldsValue(true) as WidgetSettings;
    const texts = Object.fromEntries(values.languages.map((l) => [l, { ...EMPTY_TEXTS, ...(values.texts?.[l] ?? {}) }]));
    return { ...loaded.settings, ...values, texts, logo_url: values.logo_url?.trim() ? values.logo_url.trim() : null };
  }

  async function save() {
    const settings = current();
    if (!settings || !loaded) return;
    setSaving(true);
    setProblems([]);
    try {
      const saved = await call(api.PUT('/api/v1/widget', { body: { settings, version: loaded.version } }));
      setLoaded({ ...loaded, settings: saved.settings, version: saved.version });
      message.success(t('widget.saved'));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'version_conflict') setProblems([t('widget.conflict')]);
      else if (e instanceof ApiError && e.fields.length > 0) setProblems(e.fields.map((f) => `${f.field}: ${f.message}`));
      else message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  async function rotateSecret() {
    const w = await call(api.POST('/api/v1/widget/identity-secret'));
    if (loaded) setLoaded({ ...loaded, identity_secret: w.identity_secret ?? null, version: w.version });
  }

  if (!loaded || !draft) return <Card loading className="page" />;

  return (
    <Row gutter={[16, 16]} className="page">
      <Col xs={24} xl={14}>
        <Card title={t('nav.widget')} extra={<Button type="primary" onClick={() => void save()} loading={saving} data-testid="widget-save">{t('common.save')}</Button>}>
          {problems.length > 0 && (
            <Alert type="error" showIcon style={{ marginBottom: 16 }} title={t('widget.invalid')}
              description={<ul className="problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>}
              action={problems[0] === t('widget.conflict') ? <Button size="small" onClick={() => void load()}>{t('widget.reload')}</Button> : undefined} />
          )}
          <Form form={form} layout="vertical" initialValues={loaded.settings} onValuesChange={() => setDraft(current())}>
            <Tabs items={[
              {
                key: 'look', label: t('widget.look'),
                children: (
                  <>
                    <Form.Item name="color" label={t('widget.color')} rules={[{ pattern: /^#[0-9a-fA-F]{6}$/, message: '#rrggbb' }]}>
                      <ColorField />
                    </Form.Item>
                    <Form.Item name="position" label={t('widget.position')}>
                      <Radio.Group options={[{ value: 'left', label: t('widget.left') }, { value: 'right', label: t('widget.right') }]} />
                    </Form.Item>
                    <Form.Item name="logo_url" label={t('widget.logo')} rules={[{ type: 'url', message: 'https://…' }]}>
                      <Input placeholder="https://example.com/logo.png" />
                    </Form.Item>
                  </>
                ),
              },
              {
                key: 'texts', label: t('widget.texts'),
                children: (
                  <>
                    <Form.Item name="languages" label={t('widget.languages')} rules={[{ required: true, type: 'array', min: 1 }]}>
                      <Checkbox.Group options={LANGUAGES} />
                    </Form.Item>
                    <Form.Item name="default_language" label={t('widget.defaultLanguage')}>
                      <Select style={{ width: 160 }} options={LANGUAGES.filter((l) => languages.includes(l.value))} />
                    </Form.Item>
                    <Tabs size="small" items={languages.map((lang) => ({
                      key: lang, label: LANGUAGES.find((l) => l.value === lang)?.label ?? lang,
                      children: (
                        <>
                          <Form.Item name={['texts', lang, 'title']} label={t('widget.title')} rules={[{ required: true, max: 60 }]}><Input data-testid={`widget-title-${lang}`} /></Form.Item>
                          <Form.Item name={['texts', lang, 'greeting']} label={t('widget.greeting')} rules={[{ required: true, max: 500 }]}><Input.TextArea autoSize /></Form.Item>
                          <Form.Item name={['texts', lang, 'offline_message']} label={t('widget.offlineMessage')} rules={[{ required: true, max: 500 }]}><Input.TextArea autoSize /></Form.Item>
                          <Form.Item name={['texts', lang, 'input_placeholder']} label={t('widget.placeholder')} rules={[{ required: true, max: 80 }]}><Input /></Form.Item>
                        </>
                      ),
                    }))} />
                  </>
                ),
              },
              { key: 'pre_chat', label: t('widget.preChat'), children: <FormEditor name="pre_chat" languages={languages} /> },
              { key: 'offline_form', label: t('widget.offlineForm'), children: <FormEditor name="offline_form" languages={languages} /> },
              {
                key: 'security', label: t('widget.security'),
                children: (
                  <>
                    <Form.Item name="allowed_origins" label={t('widget.origins')} extra={t('widget.originsHelp')}>
                      <Select mode="tags" tokenSeparators={[' ', ',']} placeholder="https://shop.example.com" data-testid="widget-origins" />
                    </Form.Item>
                    <Form.Item name="identity_required" label={t('widget.identityRequired')} valuePropName="checked"><Switch /></Form.Item>
                    <Form.Item label={t('widget.identitySecret')} extra={t('widget.identitySecretHelp')}>
                      <Space wrap>
                        {loaded.identity_secret ? <Typography.Text code copyable>{loaded.identity_secret}</Typography.Text> : <Typography.Text type="secondary">—</Typography.Text>}
                        <Popconfirm title={t('widget.rotateConfirm')} onConfirm={() => void rotateSecret()} okText={t('common.ok')} cancelText={t('common.cancel')}>
                          <Button size="small">{loaded.identity_secret ? t('widget.rotate') : t('widget.generate')}</Button>
                        </Popconfirm>
                      </Space>
                    </Form.Item>
                  </>
                ),
              },
            ]} />
          </Form>
        </Card>
      </Col>
      <Col xs={24} xl={10}>
        <Card title={t('widget.preview')}>
          <WidgetPreview settings={draft} edge={loaded.edge_url} />
        </Card>
      </Col>
    </Row>
  );
}

function FormEditor({ name, languages }: { name: 'pre_chat' | 'offline_form'; languages: string[] }) {
  const { t } = useI18n();
  return (
    <>
      <Form.Item name={[name, 'enabled']} label={t('widget.formEnabled')} valuePropName="checked"><Switch /></Form.Item>
      <Form.List name={[name, 'fields']}>
        {(fields, { add, remove }) => (
          <>
            {fields.map((field) => (
              <Card key={field.key} size="small" style={{ marginBottom: 8 }}
                extra={<Button size="small" type="link" danger onClick={() => remove(field.name)}>{t('common.remove')}</Button>}>
                <Space wrap align="start">
                  <Form.Item name={[field.name, 'key']} label={t('widget.fieldKey')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,31}$/, message: 'a-z, 0-9, _' }]}>
                    <Input style={{ width: 130 }} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'kind']} label={t('widget.fieldKind')}>
                    <Select style={{ width: 110 }} options={(['name', 'email', 'phone', 'text'] as const).map((k) => ({ value: k, label: t(`widget.kind.${k}`) }))} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'required']} label={t('widget.fieldRequired')} valuePropName="checked"><Switch size="small" /></Form.Item>
                  {languages.map((lang) => (
                    <Form.Item key={lang} name={[field.name, 'label', lang]} label={`${t('widget.fieldLabel')} (${lang})`} rules={[{ required: true, max: 80 }]}>
                      <Input style={{ width: 150 }} />
                    </Form.Item>
                  ))}
                </Space>
              </Card>
            ))}
            {fields.length < 10 && (
              <Button onClick={() => add({ key: '', kind: 'text', required: false, label: {} } satisfies FormSettings['fields'][number])}>{t('widget.addField')}</Button>
            )}
          </>
        )}
      </Form.List>
    </>
  );
}

/** A colour as `#rrggbb`: typed, or picked. */
function ColorField({ value, onChange }: { value?: string; onChange?: (value: string) => void }) {
  return (
    <Space.Compact>
      <ColorPicker value={value} disabledAlpha onChange={(c) => onChange?.(c.toHexString())} />
      <Input value={value} onChange={(e) => onChange?.(e.target.value.trim())} style={{ width: 110 }} data-testid="widget-color" aria-label="#rrggbb" />
    </Space.Compact>
  );
}
