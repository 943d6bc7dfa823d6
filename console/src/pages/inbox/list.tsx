// The inbox column (F14): views with counts and unread marks, filters, and the conversations of
// the chosen view, live.
import { Avatar, Badge, Empty, Input, List, Segmented, Select, Space, Typography } from 'antd';
import { useMemo } from 'react';
import { useI18n } from '../../i18n';
import { countViews, listView, VIEWS, type Filters, type View } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';
import { timeLabel, visitorLabel } from './names';

export function ConversationList({ store, view, selected, filters, onFilters, onView, onOpen }: {
  store: ConsoleStore;
  view: View;
  selected: string | undefined;
  filters: Filters;
  onFilters(filters: Filters): void;
  onView(view: View): void;
  onOpen(id: string): void;
}) {
  const { t, lang } = useI18n();
  const items = useConsole(store, (s) => s.items);
  const members = useConsole(store, (s) => s.members);
  const online = useConsole(store, (s) => s.visitorsOnline);
  const counts = useMemo(() => countViews(items, store.me), [items, store.me]);
  const list = useMemo(() => listView(items, view, store.me, filters), [items, view, store.me, filters]);
  const names = useMemo(() => new Map(members.map((m) => [m.user_id, m.display_name])), [members]);

  return (
    <div className="inbox-list" data-testid="inbox-list">
      <Segmented<View> block size="small" value={view} onChange={onView} className="inbox-views"
        options={VIEWS.map((v) => ({
          value: v,
          label: (
            <span data-testid={`view-${v}`}>
              {t(`view.${v}`)}{' '}
              {v !== 'closed' && <Badge count={counts[v].total} showZero color={counts[v].unread > 0 ? '#ef4444' : '#94a3b8'} size="small" data-testid={`count-${v}`} />}
            </span>
          ),
        }))} />
      <Space.Compact block className="inbox-filters">
        <Input.Search allowClear size="small" placeholder={t('inbox.search')} value={filters.text ?? ''}
          onChange={(e) => onFilters({ ...filters, text: e.target.value })} aria-label={t('inbox.search')} />
        <Select allowClear size="small" placeholder={t('inbox.agent')} value={filters.agent} style={{ width: 130 }} aria-label={t('inbox.agent')}
          onChange={(agent?: string) => onFilters({ ...filters, agent })}
          options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
      </Space.Compact>
      <div className="inbox-scroll">
        {list.length === 0 ? (
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t(`inbox.empty.${view}`)} />
        ) : (
          <List size="small" dataSource={list} rowKey={(i) => i.conversation_id}
            renderItem={(item) => {
              const name = visitorLabel(item, t('visitor.anonymous'));
              return (
                <List.Item onClick={() => onOpen(item.conversation_id)} data-testid="conversation-item" data-id={item.conversation_id}
                  className={`inbox-item${item.conversation_id === selected ? ' inbox-item-selected' : ''}${item.unread > 0 ? ' inbox-item-unread' : ''}`}
                  tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && onOpen(item.conversation_id)}>
                  <List.Item.Meta
                    avatar={<Badge dot={online.has(item.visitor_id)} color="#22c55e" offset={[-4, 28]}><Avatar>{name.slice(0, 1).toUpperCase()}</Avatar></Badge>}
                    title={
                      <div className="inbox-item-title">
                        <Typography.Text strong={item.unread > 0} ellipsis>{name}</Typography.Text>
                        <Typography.Text type="secondary" className="inbox-item-time">{timeLabel(item.updated_at, lang)}</Typography.Text>
                      </div>
                    }
                    description={
                      <div className="inbox-item-title">
                        <Typography.Text type="secondary" ellipsis data-testid="conversation-preview">
                          {item.last_message ? item.last_message.body : t('inbox.noMessages')}
                        </Typography.Text>
                        {item.unread > 0 ? <Badge count={item.unread} size="small" data-testid="unread" /> :
                          item.assignee ? <Typography.Text type="secondary" className="inbox-item-assignee">{names.get(item.assignee) ?? ''}</Typography.Text> : null}
                      </div>
                    }
                  />
                </List.Item>
              );
            }} />
        )}
      </div>
    </div>
  );
}
