// The knowledge base the bot answers from: the entries filtered by language and searched in the
// browser, each switched on or off, edited or deleted; new entries, import and export.
import { DownloadOutlined, PlusOutlined, SearchOutlined, UploadOutlined } from '@ant-design/icons';
import { Button, Card, Input, Popconfirm, Select, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { languagesOf, matches, type Entry, type FileFormat } from './kb';
import { EntryModal } from './kb-entry-modal';
import { ImportModal } from './kb-import';

/** Phrasings shown as tags under a question; the rest are counted. */
const SHOWN_PHRASINGS = 3;

interface Props {
  /** The plan's entry limit is reached: no new entries. */
  full: boolean;
  /** Entries were added, changed or deleted (the page's count follows). */
  onChanged(): void;
}

export function KnowledgeBase({ full, onChanged }: Props) {
  const { t } = useI18n();
  const { message } = useApp();
  const [entries, setEntries] = useState<Entry[]>();
  const [language, setLanguage] = useState('');
  const [query, setQuery] = useState('');
  const [editing, setEditing] = useState<Entry | 'new'>();
  const [importing, setImporting] = useState(false);

  const load = useCallback(async () => setEntries(await call(api.GET('/api/v1/kb/entries'))), []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  function changed() {
    load().catch((e: unknown) => message.error(describe(e, t)));
    onChanged();
  }

  async function toggle(entry: Entry, enabled: boolean) {
    const { language: lang, question, alternatives, answer } = entry;
    await call(api.PUT('/api/v1/kb/entries/{id}', { params: { path: { id: entry.id } }, body: { language: lang, question, alternatives, answer, enabled } }))
      .then(changed, (e: unknown) => message.error(describe(e, t)));
  }

  async function remove(entry: Entry) {
    await call(api.DELETE('/api/v1/kb/entries/{id}', { params: { path: { id: entry.id } } }))
      .then(changed, (e: unknown) => message.error(describe(e, t)));
  }

  async function download(format: FileFormat) {
    try {
      const blob = await call(api.GET('/api/v1/kb/export', { params: { query: { format } }, parseAs: 'blob' }));
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = `knowledge-base.${format}`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const all = entries ?? [];
  const shown = all.filter((e) => (!language || e.language === language) && matches(e, query));
  return (
    <Card title={t('kb.title')} size="small">
      <div className="kb-toolbar">
        <Space wrap>
          <Select value={language} onChange={setLanguage} style={{ width: 140 }} aria-label={t('kb.language')} data-testid="kb-language"
            options={[{ value: '', label: t('kb.allLanguages') }, ...languagesOf(all).map((l) => ({ value: l, label: l }))]} />
          <Input allowClear value={query} onChange={(e) => setQuery(e.target.value)} prefix={<SearchOutlined />} placeholder={t('kb.search')}
            aria-label={t('kb.search')} className="kb-search" data-testid="kb-search" />
        </Space>
        <Space wrap>
          <Tooltip title={full ? t('kb.full') : undefined}>
            <Button type="primary" icon={<PlusOutlined />} disabled={full} onClick={() => setEditing('new')} data-testid="kb-new">{t('kb.new')}</Button>
          </Tooltip>
          <Button icon={<UploadOutlined />} onClick={() => setImporting(true)} data-testid="kb-import">{t('kb.import')}</Button>
          <Button icon={<DownloadOutlined />} onClick={() => void download('csv')} data-testid="kb-export-csv">{t('kb.export', { format: 'CSV' })}</Button>
          <Button icon={<DownloadOutlined />} onClick={() => void download('json')} data-testid="kb-export-json">{t('kb.export', { format: 'JSON' })}</Button>
        </Space>
      </div>
      <Table<Entry> size="small" rowKey="id" dataSource={shown} loading={!entries} data-testid="kb-table" className="kb-table"
        pagination={{ pageSize: 50, hideOnSinglePage: true, showSizeChanger: false }}
        locale={{ emptyText: all.length ? t('kb.none') : t('kb.empty') }}
        columns={[
          {
            title: t('kb.question'), key: 'question',
            render: (_, e) => (
              <div className="kb-question">
                <Tag className="only-phone">{e.language}</Tag>
                <Typography.Text data-testid="kb-question">{e.question}</Typography.Text>
                {e.alternatives.length > 0 && (
                  <div className="kb-phrasings" title={e.alternatives.join('\n')}>
                    {e.alternatives.slice(0, SHOWN_PHRASINGS).map((a) => <Tag key={a}>{a}</Tag>)}
                    {e.alternatives.length > SHOWN_PHRASINGS && (
                      <Typography.Text type="secondary">{t('kb.alternativesCount', { count: e.alternatives.length - SHOWN_PHRASINGS })}</Typography.Text>
                    )}
                  </div>
                )}
              </div>
            ),
          },
          {
            title: t('kb.answer'), dataIndex: 'answer', responsive: ['lg'],
            render: (a: string) => <Typography.Paragraph ellipsis={{ rows: 2 }} className="kb-answer">{a}</Typography.Paragraph>,
          },
          { title: t('kb.language'), dataIndex: 'language', width: 90, responsive: ['md'], render: (l: string) => <Tag>{l}</Tag> },
          {
            title: t('kb.enabled'), dataIndex: 'enabled', width: 70,
            render: (on: boolean, e) => <Switch size="small" checked={on} onChange={(next) => void toggle(e, next)} aria-label={t('kb.enabled')} data-testid="kb-enabled" />,
          },
          {
            title: '', key: 'actions', width: 1,
            render: (_, e) => (
              <Space size={4} wrap>
                <Button size="small" onClick={() => setEditing(e)} data-testid="kb-edit">{t('common.edit')}</Button>
                <Popconfirm title={t('kb.deleteConfirm')} okText={t('common.remove')} cancelText={t('common.cancel')} okButtonProps={{ danger: true }}
                  onConfirm={() => remove(e)}>
                  <Button size="small" danger data-testid="kb-delete">{t('common.remove')}</Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]} />
      {editing && (
        <EntryModal key={editing === 'new' ? 'new' : editing.id} entry={editing} languages={languagesOf(all)}
          onClose={() => setEditing(undefined)} onSaved={() => { setEditing(undefined); changed(); }} />
      )}
      <ImportModal open={importing} count={all.length} onClose={() => setImporting(false)}
        onImported={() => { setImporting(false); changed(); }} />
    </Card>
  );
}
