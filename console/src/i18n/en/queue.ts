// English words of the queue area: the queue page (pages/queue.tsx); loaded with it (packs.ts, withWords).
// The reference: zh-CN/queue.ts must have every key (docs/console.md, "Languages").
export const words = {
  'queue.intro': 'Waiting conversations in the order they are served: highest priority first (set here, by a VIP level or by a tag), then longest waiting. Visitors see their place and estimate live.',
  'queue.visitor': 'Visitor',
  'queue.team': 'Team',
  'queue.priorityDerived': 'Raised by the visitor’s VIP level or a tag',
  'queue.waiting': 'Waiting',
  'queue.estimate': 'Estimate',
  'queue.toFront': 'To front',
  'queue.assign': 'Assign to…',
  'queue.anyTeam': 'Anyone',
  'queue.needsSkill': 'Only agents with this skill are given it',
  'queue.count': '{n} waiting',
  'queue.empty': 'Nobody is waiting.',
  'queue.seconds': '{n} s',
  'queue.minutes': '{n} min',
  'queue.hours': '{n} h',
} as const;
