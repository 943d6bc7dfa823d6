// Canned responses offered while the reply starts with `/` (F15).
import { Text } from '../../ui/text';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';

export type Canned = components['schemas']['CannedResponseView'];

/** The `/shortcut` being typed (without the slash), or null when the text is not a shortcut. */
export function cannedQuery(text: string): string | null {
  const match = /^\/([^\s/]*)$/.exec(text);
  return match ? (match[1] ?? '') : null;
}

/** Canned responses whose shortcut starts with, or whose title or text contains, `query`. */
export async function searchCanned(query: string): Promise<Canned[]> {
  const found = await call(api.GET('/api/v1/canned-responses', { params: { query: query ? { q: query } : {} } }));
  return found.slice(0, 20);
}

/** The matches for `query`; arrows move `active`, Enter or Tab in the composer picks it. */
export function CannedPicker({ query, active, onResults, onPick }: {
  query: string;
  active: number;
  onResults(found: Canned[]): void;
  onPick(canned: Canned): void;
}) {
  const { t } = useI18n();
  const [found, setFound] = useState<Canned[]>([]);
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      searchCanned(query).then(
        (list) => {
          if (!current) return;
          setFound(list);
          onResults(list);
        },
        () => current && setFound([]),
      );
    }, 120);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query, onResults]);
  return (
    <div className="canned-picker" data-testid="canned-picker" role="listbox" aria-label={t('nav.canned')}>
      {found.length === 0 ? <Text type="secondary">{t('canned.none')}</Text> : (
        <ul className="plain-list">
          {found.map((c, i) => (
            <li key={c.id} onMouseDown={(e) => { e.preventDefault(); onPick(c); }} role="option" aria-selected={i === active}
              className={`canned-item${i === active ? ' canned-item-active' : ''}`} data-testid="canned-item">
              <Text code>/{c.shortcut}</Text> <Text ellipsis>{c.title || c.body}</Text>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
