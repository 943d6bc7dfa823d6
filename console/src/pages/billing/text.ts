// The texts of the usage banner and the billing page, in every console language. They live with
// these lazily loaded modules rather than in the language packs, which every member downloads
// before the inbox shows (docs/console.md, "Weight"); `satisfies` keeps both languages complete.
import type { Lang } from '../../i18n';

type Vars = Record<string, string | number>;

const en = {
  meterSeats: 'seats',
  meterConversations: 'conversations this month',
  meterStorage: 'attachment storage (MiB)',
  meterKb: 'knowledge-base entries',
  near: 'You have used {percent}% of the {meter} in your plan ({used} of {limit}).',
  reachedSeats: 'All {limit} seats of your plan are taken: new invitations wait for a free seat.',
  reachedConversations:
    'This month’s {limit} conversations are used up: until {date}, new visitors can leave a message but cannot start a live chat.',
  reachedStorage: 'Your plan’s {limit} MiB of attachment storage is full: new files are refused.',
  reachedKb: 'Your plan’s {limit} knowledge-base entries are used: new entries are refused.',
  trialEnds: 'Your {plan} trial ends on {date}; the workspace then moves to the Free plan.',
  seePlan: 'Plan and usage',
  askOwner: 'The workspace owner can change the plan.',
  title: 'Plan and usage',
  currentPlan: 'Current plan',
  trialUntil: 'Trial until {date}',
  monthResets: 'Conversations are counted per calendar month in the workspace’s time zone; the count starts again on {date}.',
  paused: 'New conversations arrive as offline messages until then.',
  plans: 'Plans',
  perSeat: '{price} per seat / month',
  free: 'Free',
  colPlan: 'Plan',
  colPrice: 'Price',
  colSeats: 'Seats',
  colConversations: 'Conversations / month',
  colStorage: 'Storage',
  colKb: 'Knowledge base',
  colHistory: 'History kept',
  colFeatures: 'Includes',
  historyDays: '{days} days',
  historyAll: 'Everything',
  current: 'current',
  featureBot: 'FAQ bot',
  featureApi: 'API',
  featureRegions: 'Regions',
  featureAnalyticsExport: 'Scheduled reports',
  changeByOperator: 'To change plans, contact the operator of this Kefu installation.',
};

const zh: Record<keyof typeof en, string> = {
  meterSeats: '席位',
  meterConversations: '本月会话数',
  meterStorage: '附件存储（MiB）',
  meterKb: '知识库条目',
  near: '您已使用套餐中{meter}的 {percent}%（{used} / {limit}）。',
  reachedSeats: '套餐的 {limit} 个席位已全部占用：新的邀请需等待空出席位。',
  reachedConversations: '本月 {limit} 个会话已用完：在 {date} 之前，新访客可以留言，但无法开始在线对话。',
  reachedStorage: '套餐的 {limit} MiB 附件存储已满：新文件将被拒绝。',
  reachedKb: '套餐的 {limit} 条知识库条目已用完：无法再新增条目。',
  trialEnds: '您的 {plan} 试用将于 {date} 结束，届时工作区将转为免费套餐。',
  seePlan: '套餐与用量',
  askOwner: '工作区所有者可以更改套餐。',
  title: '套餐与用量',
  currentPlan: '当前套餐',
  trialUntil: '试用至 {date}',
  monthResets: '会话按工作区时区的自然月计算；将于 {date} 重新计数。',
  paused: '在此之前，新会话将作为留言接收。',
  plans: '套餐',
  perSeat: '每席位每月 {price}',
  free: '免费',
  colPlan: '套餐',
  colPrice: '价格',
  colSeats: '席位',
  colConversations: '每月会话',
  colStorage: '存储',
  colKb: '知识库',
  colHistory: '历史保留',
  colFeatures: '包含',
  historyDays: '{days} 天',
  historyAll: '全部',
  current: '当前',
  featureBot: '智能机器人',
  featureApi: 'API',
  featureRegions: '数据区域',
  featureAnalyticsExport: '定期报表',
  changeByOperator: '如需更改套餐，请联系本 Kefu 部署的运营方。',
};

export type TextKey = keyof typeof en;

/** The text of `key` in `lang`, with `{name}` placeholders filled. */
export function text(lang: Lang, key: TextKey, vars?: Vars): string {
  const raw = (lang === 'zh-CN' ? zh : en)[key];
  return vars ? raw.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : raw;
}

const METERS: Record<string, TextKey> = {
  seats: 'meterSeats',
  conversations: 'meterConversations',
  storage_mb: 'meterStorage',
  kb_entries: 'meterKb',
};
const REACHED: Record<string, TextKey> = {
  seats: 'reachedSeats',
  conversations: 'reachedConversations',
  storage_mb: 'reachedStorage',
  kb_entries: 'reachedKb',
};

/** A meter's name. */
export function meterName(lang: Lang, name: string): string {
  const key = METERS[name];
  return key ? text(lang, key) : name;
}

/** What a meter at `near` or `reached` means for the workspace. */
export function meterWarning(lang: Lang, meter: { name: string; used: number; limit: number; level: string }, monthEnds: string): string {
  const reached = REACHED[meter.name];
  if (meter.level === 'reached' && reached) return text(lang, reached, { limit: meter.limit, date: monthEnds });
  const percent = meter.limit > 0 ? Math.floor((meter.used * 100) / meter.limit) : 100;
  return text(lang, 'near', { percent, meter: meterName(lang, meter.name), used: meter.used, limit: meter.limit });
}

const FEATURES: Record<string, TextKey> = {
  bot: 'featureBot',
  api: 'featureApi',
  regions: 'featureRegions',
  analytics_export: 'featureAnalyticsExport',
};

/** A feature's name. */
export function featureName(lang: Lang, feature: string): string {
  const key = FEATURES[feature];
  return key ? text(lang, key) : feature;
}
