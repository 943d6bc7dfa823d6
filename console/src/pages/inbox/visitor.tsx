// The visitor panel (F13): who they are (identified data, form answers), what the host page told
// us (`setContext`), where they are now (live), where they have been, their device and place, and
// their earlier conversations.
import { DeleteOutlined } from '@ant-design/icons';
import { Badge, Button, Collapse, Descriptions, Empty, Popconfirm, Spin, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { useConsole, type ConsoleStore } from '../../state/store';
import { timeLabel } from './names';

type Profile = components['schemas']['VisitorProfile'];

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

export function VisitorPanel({ store, visitorId, conversationId, view, canErase = false }: {
  store: ConsoleStore;
  visitorId: string;
  conversationId: string;
  view: string;
  /** Admins may erase the visitor's data (GDPR/PIPL). */
  canErase?: boolean;
}) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const version = useConsole(store, (s) => s.visitorVersions.get(visitorId)) ?? 0;
  const livePage = useConsole(store, (s) => s.pages.get(visitorId));
  const online = useConsole(store, (s) => s.visitorsOnline.has(visitorId));
  const [profile, setProfile] = useState<Profile>();

  useEffect(() => {
    let current = true;
    call(api.GET('/api/v1/visitors/{visitor_id}', { params: { path: { visitor_id: visitorId } } }))
      .then((p) => current && setProfile(p))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [visitorId, version]);

  if (!profile) return <div className="visitor-panel"><Spin /></div>;
  const attributes = profile.attributes;
  const stored = attributes.current_page;
  const page = livePage ?? (stored ? { url: stored.url, title: stored.title ?? null, viewed_at: stored.at } : undefined);
  const fields = attributes.fields ?? {};
  const context = attributes.context ?? undefined;
  const utm = Object.entries(profile.first_utm);
  const earlier = profile.conversations.filter((c) => c.conversation_id !== conversationId);

  return (
    <div className="visitor-panel" data-testid="visitor-panel">
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        <Badge status={online || profile.online ? 'success' : 'default'} /> {profile.name || profile.email || t('visitor.anonymous')}
      </Typography.Title>
      <Descriptions column={1} size="small" items={[
        ...(profile.email ? [{ key: 'email', label: t('field.email'), children: profile.email }] : []),
        ...(attributes.phone ? [{ key: 'phone', label: t('visitor.phone'), children: text(attributes.phone) }] : []),
        ...(profile.ext_user ? [{ key: 'ext', label: t('visitor.identified'), children: <Tag color="blue">{profile.ext_user}</Tag> }] : []),
        ...Object.entries(fields).map(([k, v]) => ({ key: `f-${k}`, label: k, children: text(v) })),
      ]} />
      <Collapse size="small" ghost defaultActiveKey={['now', 'context', 'device']} items={[
        {
          key: 'now', label: t('visitor.currentPage'),
          children: page ? (
            <div data-testid="visitor-current-page">
              <a href={page.url} target="_blank" rel="noreferrer noopener">{page.title || page.url}</a>
              <div><Typography.Text type="secondary" ellipsis>{page.url}</Typography.Text></div>
            </div>
          ) : <Typography.Text type="secondary">—</Typography.Text>,
        },
        ...(context !== undefined ? [{
          key: 'context', label: t('visitor.context'),
          children: <pre className="visitor-context" data-testid="visitor-context">{JSON.stringify(context, null, 2)}</pre>,
        }] : []),
        {
          key: 'device', label: t('visitor.device'),
          children: <Descriptions column={1} size="small" items={[
            { key: 'browser', label: t('visitor.browser'), children: [profile.browser, profile.os].filter(Boolean).join(' · ') || '—' },
            { key: 'device', label: t('visitor.deviceType'), children: profile.device ?? '—' },
            { key: 'language', label: t('visitor.language'), children: profile.language ?? '—' },
            { key: 'country', label: t('visitor.country'), children: profile.country ?? '—' },
            { key: 'referrer', label: t('visitor.referrer'), children: profile.first_referrer ?? '—' },
            ...utm.map(([k, v]) => ({ key: k, label: k, children: text(v) })),
            { key: 'first', label: t('visitor.firstSeen'), children: new Date(profile.first_seen_at).toLocaleString(lang) },
          ]} />,
        },
        {
          key: 'pages', label: `${t('visitor.pages')} (${profile.recent_pages.length})`,
          children: profile.recent_pages.length === 0 ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} /> : (
            <ul className="plain-list visitor-list">
              {profile.recent_pages.map((p) => (
                <li key={`${p.viewed_at}${p.url}`}>
                  <Typography.Text ellipsis style={{ maxWidth: 180 }} title={p.url}>{p.title || p.url}</Typography.Text>
                  <Typography.Text type="secondary">{timeLabel(p.viewed_at, lang)}</Typography.Text>
                </li>
              ))}
            </ul>
          ),
        },
        {
          key: 'earlier', label: `${t('visitor.earlier')} (${earlier.length})`,
          children: earlier.length === 0 ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} /> : (
            <ul className="plain-list visitor-list">
              {earlier.map((c) => (
                <li key={c.conversation_id}>
                  <Link to={`/inbox/${view}/${c.conversation_id}`}>{timeLabel(c.updated_at, lang)}</Link>
                  <Tag>{t(`status.${c.status === 'open' ? 'open' : 'closed'}`)}</Tag>
                </li>
              ))}
            </ul>
          ),
        },
      ]} />
      {canErase && (
        <Popconfirm title={t('visitor.eraseTitle')} description={t('visitor.eraseWarning')} okText={t('visitor.eraseConfirm')}
          okButtonProps={{ danger: true, id: 'visitor-erase-confirm' }} cancelText={t('common.cancel')}
          onConfirm={async () => {
            try {
              const receipt = await call(api.DELETE('/api/v1/visitors/{visitor_id}', { params: { path: { visitor_id: visitorId } } }));
              message.success(t('visitor.erased', { conversations: receipt.conversations, messages: receipt.messages }));
              // Their conversations are gone from every list: start again from the inbox once the
              // member has read the receipt.
              setTimeout(() => window.location.assign('/inbox'), 1500);
            } catch (e) {
              message.error(describe(e, t));
            }
          }}>
          <Button danger size="small" icon={<DeleteOutlined />} className="visitor-erase" data-testid="visitor-erase">{t('visitor.erase')}</Button>
        </Popconfirm>
      )}
    </div>
  );
}
