// The inbox column (F14): views with counts and unread marks, filters, and the conversations of
// the chosen view, live.
import { Badge, Segmented } from 'antd';
// Avatar and Search alone: antd's Avatar brings Avatar.Group (and Popover), its Input Password
// and OTP (docs/console.md, "Weight").
import Avatar from 'antd/es/avatar/Avatar';
import Search from 'antd/es/input/Search';
import { EmptyState } from '../../ui/empty';
import { Text } from '../../ui/text';
import { lazy, Suspense, useMemo } from 'react';
import { useI18n } from '../../i18n';
import { activityAt, countViews, VIEWS, type Filters, type InboxItem, type View } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';
import { timeLabel, visitorLabel } from './names';

// The agent, team and tag filters use antd's Select, which is not in the first download: they
// appear a moment after the list (docs/console.md, "Weight").
const ListFilters = lazy(() => import('./list-filters'));

export function ConversationList({ store, view, list, selected, filters, onFilters, onView, onOpen }: {
  store: ConsoleStore;
  view: View;
  selected: string | undefined;
  /** The view's conversations, filtered and ordered (computed once by the page). */
  list: readonly InboxItem[];
  filters: Filters;
  onFilters(filters: Filters): void;
  onView(view: View): void;
  onOpen(id: string): void;
}) {
  const { t, lang } = useI18n();
  const items = useConsole(store, (s) => s.items);
  const online = useConsole(store, (s) => s.visitorsOnline);
  const counts = useMemo(() => countViews(items, store.me), [items, store.me]);
  const members = useConsole(store, (s) => s.members);
  const names = useMemo(() => new Map(members.map((m) => [m.user_id, m.display_name])), [members]);

  return (
    <div className="inbox-list" data-testid="inbox-list">
      <Segmented<View> size="small" value={view} onChange={onView} className="inbox-views"
        options={VIEWS.map((v) => ({
          value: v,
          label: (
            <span data-testid={`view-${v}`} className="view-label">
              {t(`view.${v}`)}
              {v !== 'closed' && (
                <span className={`view-count${counts[v].unread > 0 ? ' view-count-unread' : ''}`} data-testid={`count-${v}`}>{counts[v].total}</span>
              )}
            </span>
          ),
        }))} />
      <div className="inbox-filters">
        <Search allowClear size="small" placeholder={t('inbox.search')} value={filters.text ?? ''}
          onChange={(e) => onFilters({ ...filters, text: e.target.value })} aria-label={t('inbox.search')} />
        <Suspense fallback={<div className="inbox-filters-loading" />}>
          <ListFilters store={store} filters={filters} onFilters={onFilters} />
        </Suspense>
      </div>
      <div className="inbox-scroll">
        {list.length === 0 ? (
          <EmptyState description={t(`inbox.empty.${view}`)} />
        ) : (
          // A plain list (antd's List would weigh on every member's first download).
          <ul className="inbox-items">
            {list.map((item) => {
              const name = visitorLabel(item, t('visitor.anonymous'));
              return (
                <li key={item.conversation_id} onClick={() => onOpen(item.conversation_id)} data-testid="conversation-item" data-id={item.conversation_id}
                  className={`inbox-item${item.conversation_id === selected ? ' inbox-item-selected' : ''}${item.unread > 0 ? ' inbox-item-unread' : ''}`}
                  tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && onOpen(item.conversation_id)}>
                  <Badge dot={online.has(item.visitor_id)} color="#22c55e" offset={[-4, 28]}><Avatar>{name.slice(0, 1).toUpperCase()}</Avatar></Badge>
                  <div className="inbox-item-body">
                    <div className="inbox-item-title">
                      <Text strong={item.unread > 0} ellipsis>{name}</Text>
                      <Text type="secondary" className="inbox-item-time">{timeLabel(activityAt(item), lang)}</Text>
                    </div>
                    <div className="inbox-item-title">
                      <Text type="secondary" ellipsis data-testid="conversation-preview">
                        {item.last_message ? item.last_message.body : t('inbox.noMessages')}
                      </Text>
                      {item.unread > 0 ? <Badge count={item.unread} size="small" data-testid="unread" /> :
                        item.assignee ? <Text type="secondary" className="inbox-item-assignee">{names.get(item.assignee) ?? ''}</Text> : null}
                    </div>
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </div>
  );
}
