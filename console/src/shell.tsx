// The signed-in frame: navigation, the member's presence and connection, language, sign-out, and
// the pages of the console. One live store per tab, created here for the signed-in member.
// Only the inbox is in the first download; every other page is its own chunk, loaded when it is
// first opened together with its area's words (`withWords`: docs/console.md, "Weight").
import { AuditOutlined, CreditCardOutlined, DownOutlined, SearchOutlined, BranchesOutlined, FilterOutlined, ClockCircleOutlined, HourglassOutlined, LineChartOutlined, MenuOutlined, RobotOutlined, ThunderboltOutlined, UserOutlined, ApiOutlined, CommentOutlined, KeyOutlined, LogoutOutlined, SendOutlined, SettingOutlined, SkinOutlined, TeamOutlined } from '@ant-design/icons';
import { Badge, Button, Dropdown, Layout, Menu, Space, Spin, Tooltip } from 'antd';
import { Text } from './ui/text';
import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api, call } from './api/client';
import { session, signOut, type StoredSession } from './auth/session';
import { LANGS, useI18n, withWords, type Lang } from './i18n';
import { InboxPage } from './pages/inbox/inbox';
import { notifier } from './state/notify';
import { presenceChoice, type Choice } from './state/presence';
import { consoleStore, stopConsoleStore, useConsole } from './state/store';
import { atLeast } from './ui/roles';

const AuditPage = lazy(() => withWords(['admin', 'search'], import('./pages/admin/audit')).then((m) => ({ default: m.AuditPage })));
const ApiKeysPage = lazy(() => withWords(['admin'], import('./pages/admin/api-keys')).then((m) => ({ default: m.ApiKeysPage })));
const BotPage = lazy(() => withWords(['admin'], import('./pages/admin/bot')).then((m) => ({ default: m.BotPage })));
const CannedPage = lazy(() => withWords(['admin'], import('./pages/admin/canned')).then((m) => ({ default: m.CannedPage })));
const HoursPage = lazy(() => withWords(['admin'], import('./pages/admin/hours')).then((m) => ({ default: m.HoursPage })));
const MembersPage = lazy(() => withWords(['admin'], import('./pages/admin/members')).then((m) => ({ default: m.MembersPage })));
const RoutingPage = lazy(() => withWords(['admin'], import('./pages/admin/routing')).then((m) => ({ default: m.RoutingPage })));
const RulesPage = lazy(() => withWords(['admin'], import('./pages/admin/rules')).then((m) => ({ default: m.RulesPage })));
const TeamsPage = lazy(() => withWords(['admin'], import('./pages/admin/teams')).then((m) => ({ default: m.TeamsPage })));
const SiteKeysPage = lazy(() => withWords(['admin'], import('./pages/admin/site-keys')).then((m) => ({ default: m.SiteKeysPage })));
const WebhooksPage = lazy(() => withWords(['admin'], import('./pages/admin/webhooks')).then((m) => ({ default: m.WebhooksPage })));
const WidgetPage = lazy(() => withWords(['admin'], import('./pages/admin/widget')).then((m) => ({ default: m.WidgetPage })));
const AnalyticsPage = lazy(() => withWords(['analytics'], import('./pages/analytics/page')).then((m) => ({ default: m.AnalyticsPage })));
const QueuePage = lazy(() => withWords(['queue'], import('./pages/queue')).then((m) => ({ default: m.QueuePage })));
const SearchPage = lazy(() => withWords(['search'], import('./pages/search')).then((m) => ({ default: m.SearchPage })));
const SettingsPage = lazy(() => withWords(['settings'], import('./pages/settings')).then((m) => ({ default: m.SettingsPage })));
const VerifyBanner = lazy(() => import('./verify-banner'));
const UsageBanner = lazy(() => withWords(['billing'], import('./pages/billing/usage-banner')));
const BillingPage = lazy(() => withWords(['billing'], import('./pages/billing/page')).then((m) => ({ default: m.BillingPage })));

const PRESENCE_COLOURS: Record<Choice, string> = { online: '#22c55e', busy: '#f59e0b', away: '#a3a3a3', offline: '#ef4444' };

// The header's two choices are menus (antd Dropdown over the Menu the navigation loads anyway)
// rather than Selects, which would weigh on every member's first download (docs/console.md, "Weight").
function PresenceMenu() {
  const { t } = useI18n();
  const choice = useSyncExternalStore(
    (l) => presenceChoice.subscribe(l),
    () => presenceChoice.effective(),
  );
  const label = (c: Choice) => <Space size={6}><Badge color={PRESENCE_COLOURS[c]} />{t(`presence.${c}`)}</Space>;
  return (
    <Dropdown trigger={['click']} menu={{
      selectable: true,
      selectedKeys: [choice],
      items: (['online', 'busy', 'away', 'offline'] as const).map((c) => ({ key: c, label: label(c) })),
      onClick: ({ key }) => presenceChoice.choose(key as Choice),
    }}>
      <Button size="small" className="shell-choice" style={{ width: 130 }} aria-label={`${t('presence.label')}: ${t(`presence.${choice}`)}`} data-testid="presence">
        {label(choice)}<DownOutlined className="shell-choice-arrow" />
      </Button>
    </Dropdown>
  );
}

function LanguageMenu() {
  const { t, lang, setLang } = useI18n();
  const current = LANGS.find((l) => l.lang === lang)?.label;
  return (
    <Dropdown trigger={['click']} menu={{
      selectable: true,
      selectedKeys: [lang],
      items: LANGS.map((l) => ({ key: l.lang, label: <span lang={l.lang}>{l.label}</span> })),
      onClick: ({ key }) => setLang(key as Lang),
    }}>
      <Button size="small" className="shell-choice" style={{ width: 100 }} aria-label={`${t('settings.language')}: ${current}`} data-testid="language">
        {current}<DownOutlined className="shell-choice-arrow" />
      </Button>
    </Dropdown>
  );
}

/** The member and language last told to the api in this page's life. */
let toldLanguage: string | undefined;

export function Shell({ session: current }: { session: StoredSession }) {
  const { t, lang } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const store = consoleStore(current.user.id);
  const connection = useConsole(store, (s) => s.connection);
  const [collapsed, setCollapsed] = useState(false);
  const admin = atLeast(current.role, 'admin');
  const supervisor = atLeast(current.role, 'supervisor');
  const owner = current.role === 'owner';

  // Mails written for the member (analytics reports) follow the language they chose here.
  useEffect(() => {
    const told = `${current.user.id}:${lang}`;
    if (current.user.language === lang || toldLanguage === told) return;
    toldLanguage = told;
    call(api.PUT('/api/v1/me/language', { body: { language: lang } })).catch(() => { toldLanguage = undefined; });
  }, [lang, current.user.id, current.user.language]);

  useEffect(() => {
    notifier.texts = { newConversation: t('notify.newConversation'), newMessage: t('notify.newMessage'), notConnected: t('notify.notConnected') };
  }, [t]);

  const items = [
    { key: '/inbox', icon: <CommentOutlined />, label: t('nav.inbox') },
    { key: '/queue', icon: <HourglassOutlined />, label: t('nav.queue') },
    { key: '/search', icon: <SearchOutlined />, label: t('nav.search') },
    ...(supervisor
      ? [
          { key: '/analytics', icon: <LineChartOutlined />, label: t('nav.analytics') },
          { key: '/admin/canned', icon: <ThunderboltOutlined />, label: t('nav.canned') },
          { key: '/admin/bot', icon: <RobotOutlined />, label: t('nav.bot') },
        ]
      : []),
    ...(admin
      ? [
          { key: '/admin/members', icon: <UserOutlined />, label: t('nav.members') },
          { key: '/admin/teams', icon: <TeamOutlined />, label: t('nav.teams') },
          { key: '/admin/routing', icon: <BranchesOutlined />, label: t('nav.routing') },
          { key: '/admin/rules', icon: <FilterOutlined />, label: t('nav.rules') },
          { key: '/admin/hours', icon: <ClockCircleOutlined />, label: t('nav.hours') },
          { key: '/admin/widget', icon: <SkinOutlined />, label: t('nav.widget') },
          { key: '/admin/site-keys', icon: <ApiOutlined />, label: t('nav.siteKeys') },
          { key: '/admin/api-keys', icon: <KeyOutlined />, label: t('nav.apiKeys') },
          { key: '/admin/webhooks', icon: <SendOutlined />, label: t('nav.webhooks') },
          { key: '/admin/audit', icon: <AuditOutlined />, label: t('nav.audit') },
        ]
      : []),
    ...(owner ? [{ key: '/admin/billing', icon: <CreditCardOutlined />, label: t('nav.billing') }] : []),
    { key: '/settings', icon: <SettingOutlined />, label: t('nav.settings') },
  ];
  const selected = items.map((i) => i.key).find((k) => location.pathname.startsWith(k)) ?? '/inbox';

  async function logout() {
    stopConsoleStore();
    await signOut();
  }

  return (
    <Layout className="shell">
      <Layout.Sider breakpoint="md" collapsedWidth={0} collapsed={collapsed} onBreakpoint={setCollapsed} trigger={null} width={208} theme="light" className="shell-sider">
        <div className="shell-brand">Kefu 客服<Text type="secondary" ellipsis className="shell-tenant">{current.tenant.name}</Text></div>
        <Menu mode="inline" selectedKeys={[selected]} items={items}
          onClick={({ key }) => {
            navigate(key);
            if (window.matchMedia('(max-width: 767px)').matches) setCollapsed(true);
          }} />
      </Layout.Sider>
      {!collapsed && <div className="shell-scrim only-phone" onClick={() => setCollapsed(true)} aria-hidden="true" />}
      <Layout>
        <Layout.Header className="shell-header">
          <Space size={8} wrap={false}>
            <Button type="text" icon={<MenuOutlined />} className="only-phone" aria-label={t('nav.menu')} onClick={() => setCollapsed(!collapsed)} data-testid="menu" />
            <Tooltip title={t(`connection.${connection}`)}>
              <span data-testid="connection" data-state={connection}>
                <Badge status={connection === 'online' ? 'success' : connection === 'connecting' ? 'processing' : 'error'} />
              </span>
            </Tooltip>
            <PresenceMenu />
          </Space>
          <Space size={8}>
            <LanguageMenu />
            <Tooltip title={t('nav.logout')}>
              <Button size="small" icon={<LogoutOutlined />} onClick={() => void logout()} aria-label={t('nav.logout')} />
            </Tooltip>
          </Space>
        </Layout.Header>
        {!current.user.email_verified && <Suspense fallback={null}><VerifyBanner /></Suspense>}
        <Suspense fallback={null}><UsageBanner owner={owner} /></Suspense>
        <Layout.Content className="shell-content">
          <Suspense fallback={<Spin className="shell-loading" />}>
          <Routes>
            <Route path="/inbox/:view?/:conversationId?" element={<InboxPage store={store} session={current} />} />
            <Route path="/queue" element={<QueuePage store={store} session={current} />} />
            <Route path="/search" element={<SearchPage store={store} session={current} />} />
            <Route path="/settings" element={<SettingsPage session={current} />} />
            {supervisor && <Route path="/analytics" element={<AnalyticsPage store={store} canEditReports={admin} />} />}
            {supervisor && <Route path="/admin/canned" element={<CannedPage />} />}
            {supervisor && <Route path="/admin/bot" element={<BotPage session={current} />} />}
            {admin && <Route path="/admin/members" element={<MembersPage session={current} />} />}
            {admin && <Route path="/admin/teams" element={<TeamsPage />} />}
            {admin && <Route path="/admin/routing" element={<RoutingPage />} />}
            {admin && <Route path="/admin/rules" element={<RulesPage />} />}
            {admin && <Route path="/admin/hours" element={<HoursPage />} />}
            {admin && <Route path="/admin/widget" element={<WidgetPage />} />}
            {admin && <Route path="/admin/site-keys" element={<SiteKeysPage />} />}
            {admin && <Route path="/admin/api-keys" element={<ApiKeysPage session={current} />} />}
            {admin && <Route path="/admin/webhooks" element={<WebhooksPage />} />}
            {admin && <Route path="/admin/audit" element={<AuditPage store={store} />} />}
            {owner && <Route path="/admin/billing" element={<BillingPage />} />}
            <Route path="*" element={<Navigate to="/inbox" replace />} />
          </Routes>
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
