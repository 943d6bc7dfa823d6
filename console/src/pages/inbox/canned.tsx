// Canned responses offered while the reply starts with `/` (F15).
import { List, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useI18n } from '../../i18n';

export interface Canned {
  id: string;
  shortcut: string;
  title: string;
  body: string;
}

/** The `/shortcut` being typed (without the slash), or null when the text is not a shortcut. */
export function cannedQuery(text: string): string | null {
  const match = /^\/([^\s/]*)$/.exec(text);
  return match ? (match[1] ?? '') : null;
}

export async function searchCanned(_query: string): Promise<Canned[]> {
  return [];
}

export function CannedPicker({ query, onPick }: { query: string; onPick(body: string): void }) {
  const { t } = useI18n();
  const [found, setFound] = useState<Canned[]>([]);
  useEffect(() => {
    let current = true;
    searchCanned(query).then((list) => current && setFound(list), () => current && setFound([]));
    return () => {
      current = false;
    };
  }, [query]);
  return (
    <div className="canned-picker" data-testid="canned-picker">
      {found.length === 0 ? <Typography.Text type="secondary">{t('canned.none')}</Typography.Text> : (
        <List size="small" dataSource={found} rowKey={(c) => c.id}
          renderItem={(c) => (
            <List.Item onMouseDown={(e) => { e.preventDefault(); onPick(c.body); }} className="canned-item" data-testid="canned-item">
              <Typography.Text code>/{c.shortcut}</Typography.Text> <Typography.Text ellipsis>{c.title || c.body}</Typography.Text>
            </List.Item>
          )} />
      )}
    </div>
  );
}
