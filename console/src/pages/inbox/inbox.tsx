// The inbox page: list, conversation and visitor panel side by side on a wide screen, one at a
// time on a phone; keyboard shortcuts for the busy agent.
import { Spin } from 'antd';
import { EmptyState } from '../../ui/empty';
import { Text } from '../../ui/text';
import { useApp } from '../../ui/app';
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import type { StoredSession } from '../../auth/session';
import { useI18n } from '../../i18n';
import { listView, neighbour, VIEWS, type Filters, type View } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';
import { atLeast } from '../../ui/roles';
import type { ComposerHandle } from './composer';
import { ConversationView } from './conversation';
import { ConversationList } from './list';
import { useShortcuts } from './shortcuts';

// The visitor panel, and the drawer that holds it on a phone, load after the inbox (they are not
// needed to read and answer): docs/console.md, "Weight".
const VisitorPanel = lazy(() => import('./visitor').then((m) => ({ default: m.VisitorPanel })));
const VisitorDrawer = lazy(() => import('./visitor-drawer'));
// So is the list of shortcuts (a Modal, which the inbox has no other use for at first).
const ShortcutsHelp = lazy(() => import('./shortcuts-help'));

function asView(value: string | undefined): View {
  return VIEWS.includes(value as View) ? (value as View) : 'unassigned';
}

export function InboxPage({ store, session }: { store: ConsoleStore; session: StoredSession }) {
  const { t } = useI18n();
  const { message } = useApp();
  const navigate = useNavigate();
  const params = useParams();
  const view = asView(params.view);
  const selected = params.conversationId;
  const [filters, setFilters] = useState<Filters>({});
  const [visitorOpen, setVisitorOpen] = useState(false);
  const [help, setHelp] = useState(false);
  const composer = useRef<ComposerHandle>(null);
  // Once opened, the drawer stays mounted so that it can animate closed.
  const drawerUsed = useRef(false);
  if (visitorOpen) drawerUsed.current = true;
  const helpUsed = useRef(false);
  if (help) helpUsed.current = true;
  const items = useConsole(store, (s) => s.items);
  const closedLoaded = useConsole(store, (s) => s.closedLoaded);
  const lastError = useConsole(store, (s) => s.lastError);
  const list = useMemo(() => listView(items, view, store.me, filters), [items, view, store.me, filters]);
  const item = selected ? items.get(selected) : undefined;

  useEffect(() => {
    if (view === 'closed' && !closedLoaded) void store.loadList('closed').catch(() => undefined);
  }, [view, closedLoaded, store]);

  useEffect(() => {
    if (lastError) message.warning(lastError.message);
  }, [lastError, message]);

  const go = (id: string | undefined) => navigate(id ? `/inbox/${view}/${id}` : `/inbox/${view}`);

  useShortcuts({
    next: () => go(neighbour(list, selected, 1)),
    previous: () => go(neighbour(list, selected, -1)),
    reply: () => composer.current?.focus(),
    claim: () => selected && item?.status === 'open' && !item.assignee && store.claim(selected),
    close: () => selected && item?.status === 'open' && store.closeConversation(selected),
    help: () => setHelp(true),
  });

  return (
    <div className={`inbox${selected ? ' inbox-has-conversation' : ''}`}>
      <ConversationList store={store} view={view} list={list} selected={selected} filters={filters} onFilters={setFilters}
        onView={(v) => navigate(`/inbox/${v}`)} onOpen={(id) => go(id)} />
      <div className="inbox-conversation">
        {selected ? (
          <ConversationView key={selected} store={store} id={selected} onBack={() => go(undefined)} onVisitor={() => setVisitorOpen(true)} composer={composer} />
        ) : (
          <div className="inbox-none"><EmptyState description={<span>{t('inbox.pick')} <Text keyboard>?</Text> {t('inbox.shortcutsHint')}</span>} /></div>
        )}
      </div>
      {selected && item && (
        <>
          <div className="inbox-visitor only-wide">
            <Suspense fallback={<Spin className="shell-loading" />}>
              <VisitorPanel store={store} visitorId={item.visitor_id} conversationId={selected} view={view} canErase={atLeast(session.role, 'admin')} />
            </Suspense>
          </div>
          {(visitorOpen || drawerUsed.current) && (
            <Suspense fallback={null}>
              <VisitorDrawer open={visitorOpen} onClose={() => setVisitorOpen(false)} title={t('conversation.visitor')}>
                <VisitorPanel store={store} visitorId={item.visitor_id} conversationId={selected} view={view} canErase={atLeast(session.role, 'admin')} />
              </VisitorDrawer>
            </Suspense>
          )}
        </>
      )}
      {(help || helpUsed.current) && (
        <Suspense fallback={null}>
          <ShortcutsHelp open={help} onClose={() => setHelp(false)} />
        </Suspense>
      )}
    </div>
  );
}
