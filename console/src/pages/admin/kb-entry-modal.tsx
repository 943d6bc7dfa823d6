// One knowledge-base entry, new or edited: its language, question, other phrasings (one per
// line), answer and whether the bot uses it. The api's refusals land on their fields.
import { AutoComplete, Form, Input, Modal, Switch } from 'antd';
import { useApp } from '../../ui/app';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { LANGUAGE_TAG, MAX_ALTERNATIVES, MAX_ANSWER, MAX_QUESTION, phrasings, type Entry } from './kb';

interface Values {
  language: string;
  question: string;
  /** One phrasing per line. */
  alternatives: string;
  answer: string;
  enabled: boolean;
}

const FIELDS = ['language', 'question', 'alternatives', 'answer', 'enabled'];

interface Props {
  entry: Entry | 'new';
  /** Languages offered (free entry too). */
  languages: string[];
  onClose(): void;
  onSaved(): void;
}

export function EntryModal({ entry, languages, onClose, onSaved }: Props) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [form] = Form.useForm<Values>();
  const [saving, setSaving] = useState(false);
  const initial: Values = entry === 'new'
    ? { language: lang, question: '', alternatives: '', answer: '', enabled: true }
    : { language: entry.language, question: entry.question, alternatives: entry.alternatives.join('\n'), answer: entry.answer, enabled: entry.enabled };

  async function save(values: Values) {
    setSaving(true);
    try {
      const body = {
        language: values.language.trim(),
        question: values.question.trim(),
        alternatives: phrasings(values.alternatives),
        answer: values.answer.trim(),
        enabled: values.enabled,
      };
      if (entry === 'new') await call(api.POST('/api/v1/kb/entries', { body }));
      else await call(api.PUT('/api/v1/kb/entries/{id}', { params: { path: { id: entry.id } }, body }));
      onSaved();
    } catch (e) {
      // `alternatives[3]` is a line of the phrasings field.
      if (!showFieldErrors(form, e, t, FIELDS, (f) => f.replace(/\[\d+\]$/, ''))) message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  return (
    <Modal open title={entry === 'new' ? t('kb.new') : t('common.edit')} onCancel={onClose} onOk={() => form.submit()}
      okText={t('common.save')} cancelText={t('common.cancel')} confirmLoading={saving} okButtonProps={{ id: 'kb-entry-save' }} width={640}>
      <Form form={form} layout="vertical" initialValues={initial} onFinish={save} data-testid="kb-entry-form">
        <Form.Item name="language" label={t('kb.language')} extra={t('kb.languageHelp')}
          rules={[{ required: true, message: t('field.required') }, { pattern: LANGUAGE_TAG, message: t('kb.languageInvalid') }]}>
          <AutoComplete options={languages.map((l) => ({ value: l }))} style={{ maxWidth: 200 }}>
            <Input maxLength={35} data-testid="kb-entry-language" />
          </AutoComplete>
        </Form.Item>
        <Form.Item name="question" label={t('kb.question')} rules={[{ required: true, whitespace: true, message: t('field.required') }, { max: MAX_QUESTION }]}>
          <Input maxLength={MAX_QUESTION} data-testid="kb-entry-question" />
        </Form.Item>
        <Form.Item name="alternatives" label={t('kb.alternatives')} extra={t('kb.alternativesHelp')}
          rules={[{
            validator: (_, text: string | undefined) => {
              const list = phrasings(text);
              if (list.length > MAX_ALTERNATIVES) return Promise.reject(new Error(t('kb.alternativesTooMany')));
              if (list.some((p) => [...p].length > MAX_QUESTION)) return Promise.reject(new Error(t('kb.alternativeTooLong')));
              return Promise.resolve();
            },
          }]}>
          <Input.TextArea autoSize={{ minRows: 2, maxRows: 8 }} data-testid="kb-entry-alternatives" />
        </Form.Item>
        <Form.Item name="answer" label={t('kb.answer')} rules={[{ required: true, whitespace: true, message: t('field.required') }, { max: MAX_ANSWER }]}>
          <Input.TextArea autoSize={{ minRows: 3, maxRows: 12 }} maxLength={MAX_ANSWER} data-testid="kb-entry-answer" />
        </Form.Item>
        <Form.Item name="enabled" label={t('kb.enabled')} valuePropName="checked" extra={t('kb.enabledHelp')}>
          <Switch data-testid="kb-entry-enabled" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
