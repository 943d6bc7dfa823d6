// The inbox's agent, team and tag filters (F14), loaded after the list (list.tsx).
import { Select, Space } from 'antd';
import { useMemo } from 'react';
import { useI18n } from '../../i18n';
import type { Filters } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';

export default function ListFilters({ store, filters, onFilters }: { store: ConsoleStore; filters: Filters; onFilters(filters: Filters): void }) {
  const { t } = useI18n();
  const items = useConsole(store, (s) => s.items);
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const tags = useMemo(() => [...new Set([...items.values()].flatMap((i) => i.tags))].sort(), [items]);
  return (
    <Space.Compact block>
      <Select allowClear size="small" placeholder={t('inbox.agent')} value={filters.agent} style={{ width: '34%' }} aria-label={t('inbox.agent')}
        onChange={(agent?: string) => onFilters({ ...filters, agent })} popupMatchSelectWidth={false}
        options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
      <Select allowClear size="small" placeholder={t('inbox.team')} value={filters.team} style={{ width: '33%' }} aria-label={t('inbox.team')}
        onChange={(team?: string) => onFilters({ ...filters, team })} popupMatchSelectWidth={false}
        options={teams.map((team) => ({ value: team.id, label: team.name }))} />
      <Select allowClear size="small" placeholder={t('inbox.tag')} value={filters.tag} style={{ width: '33%' }} aria-label={t('inbox.tag')}
        onChange={(tag?: string) => onFilters({ ...filters, tag })} popupMatchSelectWidth={false} data-testid="filter-tag"
        options={tags.map((tag) => ({ value: tag, label: tag }))} />
    </Space.Compact>
  );
}
