// Simplified Chinese words of the queue area: every key of en/queue.ts, or `tsc` fails.
// 简体中文：每个英文键都必须有译文。
import type { Dict } from '../words';

export const words: Dict<'queue'> = {
  'queue.intro': '等待中的会话按服务顺序排列：优先级高的在前（可在此设置，或由 VIP 等级、标签决定），同优先级按等待时间。访客实时看到自己的位置和预计等待时间。',
  'queue.visitor': '访客',
  'queue.team': '团队',
  'queue.priorityDerived': '因访客的 VIP 等级或标签而提高',
  'queue.waiting': '已等待',
  'queue.estimate': '预计',
  'queue.toFront': '置顶',
  'queue.assign': '分配给…',
  'queue.anyTeam': '任何人',
  'queue.needsSkill': '只分配给具备此技能的客服',
  'queue.count': '{n} 人等待',
  'queue.empty': '当前没有人在排队。',
  'queue.seconds': '{n} 秒',
  'queue.minutes': '{n} 分钟',
  'queue.hours': '{n} 小时',
};
