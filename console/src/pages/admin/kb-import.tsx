// Importing a CSV or JSON file into the knowledge base, appended or in place of what is there
// (asked twice). The file is read in the browser and sent as text; the api takes all of it or
// nothing, and its refusals are listed line by line.
import { UploadOutlined } from '@ant-design/icons';
import { Alert, Button, Form, Modal, Radio, Typography, Upload } from 'antd';
import { useApp } from '../../ui/app';
import { useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import { useI18n, type Key, type Vars } from '../../i18n';
import { describe } from '../../ui/errors';
import { formatOf, lineErrors, MAX_IMPORT_BYTES, type FileFormat, type LineError } from './kb';

type Mode = 'append' | 'replace';

const FIELD_LABELS: Record<string, Key> = {
  language: 'kb.language',
  question: 'kb.question',
  alternatives: 'kb.alternatives',
  answer: 'kb.answer',
  enabled: 'kb.enabled',
};

/** "Line 3 · Question: The question is empty." (the reason is the api's, in English). */
function describeLine(error: LineError, t: (key: Key, vars?: Vars) => string): string {
  const label = error.field ? FIELD_LABELS[error.field] : undefined;
  const where = [error.line !== undefined ? t('kb.line', { line: error.line }) : '', label ? t(label) : ''].filter(Boolean);
  return where.length ? `${where.join(' · ')}: ${error.message}` : error.message;
}

interface Props {
  open: boolean;
  /** Entries there now (what `replace` deletes). */
  count: number;
  onClose(): void;
  onImported(): void;
}

export function ImportModal({ open, count, onClose, onImported }: Props) {
  const { t } = useI18n();
  const { message } = useApp();
  const [modal, modalHolder] = Modal.useModal();
  const [file, setFile] = useState<{ name: string; text: string }>();
  const [format, setFormat] = useState<FileFormat>('csv');
  const [mode, setMode] = useState<Mode>('append');
  const [errors, setErrors] = useState<LineError[]>([]);
  const [sending, setSending] = useState(false);

  function close() {
    setFile(undefined);
    setErrors([]);
    setMode('append');
    onClose();
  }

  function choose(chosen: File): false | typeof Upload.LIST_IGNORE {
    setErrors([]);
    setFile(undefined); // nothing to send until this one is read
    if (chosen.size > MAX_IMPORT_BYTES) {
      message.error(t('kb.fileTooLarge'));
      return Upload.LIST_IGNORE;
    }
    const detected = formatOf(chosen.name);
    if (detected) setFormat(detected);
    chosen.text().then((text) => setFile({ name: chosen.name, text }), (e: unknown) => message.error(String(e)));
    return false; // read here, never uploaded by the component
  }

  async function send() {
    if (!file) return;
    setSending(true);
    setErrors([]);
    try {
      const done = await call(api.POST('/api/v1/kb/import', {
        params: { query: { format, mode } },
        body: file.text,
        bodySerializer: (text: string) => text,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      }));
      message.success(done.replaced > 0
        ? t('kb.importedReplaced', { count: done.imported, replaced: done.replaced })
        : t('kb.imported', { count: done.imported }));
      setFile(undefined);
      setMode('append');
      onImported();
    } catch (e) {
      if (e instanceof ApiError && e.fields.length > 0) setErrors(lineErrors(e.fields));
      else message.error(describe(e, t));
    } finally {
      setSending(false);
    }
  }

  function confirmThenSend() {
    if (mode === 'append' || count === 0) {
      void send();
      return;
    }
    modal.confirm({
      title: t('kb.replaceConfirm', { count }),
      okText: t('kb.replaceOk'),
      okButtonProps: { danger: true, id: 'kb-replace-confirm' },
      cancelText: t('common.cancel'),
      onOk: send,
    });
  }

  return (
    <>
    {modalHolder}
    <Modal open={open} title={t('kb.importTitle')} onCancel={close} width={640} destroyOnHidden
      footer={[
        <Button key="cancel" onClick={close}>{t('common.cancel')}</Button>,
        <Button key="send" type="primary" danger={mode === 'replace'} disabled={!file} loading={sending} onClick={confirmThenSend} data-testid="kb-import-send">
          {t('kb.send')}
        </Button>,
      ]}>
      <Typography.Paragraph type="secondary" className="kb-import-help">{t('kb.importHelp')}</Typography.Paragraph>
      <Form layout="vertical">
        <Form.Item label={t('kb.chooseFile')}>
          <div data-testid="kb-import-file">
            <Upload accept=".csv,.json,text/csv,application/json" maxCount={1} beforeUpload={choose}
              fileList={file ? [{ uid: 'file', name: file.name, status: 'done' }] : []}
              onRemove={() => { setFile(undefined); setErrors([]); }}>
              <Button icon={<UploadOutlined />}>{t('kb.chooseFile')}</Button>
            </Upload>
          </div>
        </Form.Item>
        <Form.Item label={t('kb.format')}>
          <Radio.Group value={format} onChange={(e) => setFormat(e.target.value as FileFormat)} data-testid="kb-import-format"
            options={[{ value: 'csv', label: 'CSV' }, { value: 'json', label: 'JSON' }]} />
        </Form.Item>
        <Form.Item label={t('kb.mode')}>
          <Radio.Group value={mode} onChange={(e) => setMode(e.target.value as Mode)} data-testid="kb-import-mode" className="kb-import-mode"
            options={[{ value: 'append', label: t('kb.append') }, { value: 'replace', label: t('kb.replace') }]} />
        </Form.Item>
      </Form>
      {errors.length > 0 && (
        <Alert type="error" showIcon title={t('kb.importErrors')}
          description={
            <ul className="kb-import-errors" data-testid="kb-import-errors">
              {errors.map((e, i) => <li key={i} data-line={e.line}>{describeLine(e, t)}</li>)}
            </ul>
          } />
      )}
    </Modal>
    </>
  );
}
