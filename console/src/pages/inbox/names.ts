// How people are named in the inbox: a visitor without a name gets a short stable label.
import type { InboxItem } from '../../state/inbox';

export function visitorLabel(item: Pick<InboxItem, 'visitor_name' | 'visitor_email' | 'visitor_id'>, anonymous: string): string {
  return item.visitor_name || item.visitor_email || `${anonymous} #${item.visitor_id.slice(-4).toUpperCase()}`;
}

export function timeLabel(iso: string, lang: string): string {
  const at = new Date(iso);
  const now = new Date();
  const sameDay = at.toDateString() === now.toDateString();
  return sameDay
    ? at.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' })
    : at.toLocaleDateString(lang, { month: 'short', day: 'numeric' });
}
