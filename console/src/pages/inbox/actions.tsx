// Handing a conversation on (F17): transfer to a colleague or a team with a note, invite a
// colleague in, reopen a closed one, and its tags. All through REST; the results come back to
// every console as `conversation_updated` and, for the first three, a system note.
// The dialogs and the tag editor use antd's Select, which is not in the first download: they are
// a chunk of their own (actions-dialogs.tsx), loaded with the first conversation opened and
// first shown when a button is pressed (docs/console.md, "Weight").
import { Button, Tooltip } from 'antd';
import { useApp } from '../../ui/app';
import { lazy, Suspense, useRef, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import type { InboxItem } from '../../state/inbox';
import type { ConsoleStore } from '../../state/store';
import { describe } from '../../ui/errors';

const TransferDialog = lazy(() => import('./actions-dialogs').then((m) => ({ default: m.TransferDialog })));
const InviteDialog = lazy(() => import('./actions-dialogs').then((m) => ({ default: m.InviteDialog })));
const TagSelect = lazy(() => import('./actions-dialogs').then((m) => ({ default: m.TagSelect })));

export function useConversationActions(store: ConsoleStore, item: InboxItem | undefined) {
  const { t } = useI18n();
  const { message } = useApp();

  async function run(work: () => Promise<components['schemas']['ConversationSummary']>) {
    try {
      store.applySummary(await work());
      return true;
    } catch (e) {
      message.error(describe(e, t));
      return false;
    }
  }

  return {
    reopen: () => item && run(() => call(api.POST('/api/v1/conversations/{conversation_id}/reopen', { params: { path: { conversation_id: item.conversation_id } } }))),
    transfer: (to: string, note: string) => item
      ? run(() => call(api.POST('/api/v1/conversations/{conversation_id}/transfer', {
          params: { path: { conversation_id: item.conversation_id } },
          body: { to, note: note.trim() || null },
        })))
      : Promise.resolve(false),
    invite: (userId: string) => item
      ? run(() => call(api.POST('/api/v1/conversations/{conversation_id}/participants', {
          params: { path: { conversation_id: item.conversation_id } },
          body: { user_id: userId },
        })))
      : Promise.resolve(false),
    tag: (tags: string[]) => item && run(() => call(api.PUT('/api/v1/conversations/{conversation_id}/tags', {
      params: { path: { conversation_id: item.conversation_id } },
      body: { tags },
    }))),
  };
}

export function TransferButton({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  // Once opened, the dialog stays mounted so that it can animate closed.
  const used = useRef(false);
  if (open) used.current = true;
  return (
    <>
      <Button size="small" onClick={() => setOpen(true)} data-testid="transfer">{t('conversation.transfer')}</Button>
      {used.current && (
        <Suspense fallback={null}>
          <TransferDialog store={store} item={item} open={open} onClose={() => setOpen(false)} />
        </Suspense>
      )}
    </>
  );
}

export function InviteButton({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const used = useRef(false);
  if (open) used.current = true;
  return (
    <>
      <Tooltip title={t('conversation.inviteHelp')}>
        <Button size="small" onClick={() => setOpen(true)} data-testid="invite-colleague">{t('conversation.invite')}</Button>
      </Tooltip>
      {used.current && (
        <Suspense fallback={null}>
          <InviteDialog store={store} item={item} open={open} onClose={() => setOpen(false)} />
        </Suspense>
      )}
    </>
  );
}

/** The conversation's tags; until the editor has loaded, the tags as they are. */
export function TagEditor({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  return (
    <Suspense fallback={
      <span className="tag-editor tag-editor-loading" data-testid="tags" aria-label={t('conversation.tags')}>
        {item.tags.length > 0 ? item.tags.map((tag) => <span key={tag} className="tag-editor-tag">{tag}</span>) : <span className="tag-editor-placeholder">{t('conversation.tags')}</span>}
      </span>
    }>
      <TagSelect store={store} item={item} />
    </Suspense>
  );
}
