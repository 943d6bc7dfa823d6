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
  subscription: 'Subscription',
  noSubscription: 'No subscription: choose a plan below to subscribe. You pay by card on Stripe’s secure page.',
  statusActive: 'Active',
  statusTrialing: 'Active (trial)',
  statusPastDue: 'Payment failed',
  statusUnpaid: 'Unpaid',
  statusCanceled: 'Ended',
  statusIncomplete: 'Waiting for the first payment',
  statusOther: 'Status: {status}',
  renews: 'Renews on {date}, {seats} seats billed (one per member).',
  endsOn: 'Cancelled: the plan stays until {date}, then the workspace moves to Free. Nothing is deleted.',
  grace: 'Your last payment failed. Update your payment method before {date}, or the workspace moves to the Free plan (nothing is deleted).',
  graceOver: 'Your payment failed, and on {date} the workspace moved to the Free plan (nothing was deleted). Update your payment method to get your plan back.',
  portal: 'Payment methods and invoices',
  cancel: 'Cancel subscription',
  cancelConfirm: 'Cancel at the end of the paid period? The plan stays until {date}.',
  resume: 'Keep my subscription',
  subscribe: 'Subscribe',
  switchTo: 'Switch to this plan',
  switched: 'Your plan is now {plan}. The change is prorated on your next invoice.',
  confirming: 'Thank you! Stripe is confirming your payment; this page updates by itself.',
  confirmed: 'Your subscription is active.',
  checkoutCancelled: 'Checkout was cancelled; nothing was charged.',
  working: 'Opening Stripe…',
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
  subscription: '订阅',
  noSubscription: '尚未订阅：在下方选择套餐即可订阅，在 Stripe 的安全页面以银行卡付款。',
  statusActive: '生效中',
  statusTrialing: '生效中（试用）',
  statusPastDue: '扣款失败',
  statusUnpaid: '未付款',
  statusCanceled: '已结束',
  statusIncomplete: '等待首次付款',
  statusOther: '状态：{status}',
  renews: '将于 {date} 续订，按成员计费 {seats} 个席位。',
  endsOn: '已取消：套餐保留至 {date}，之后工作区转为免费套餐，不会删除任何数据。',
  grace: '最近一次扣款失败。请在 {date} 前更新付款方式，否则工作区将转为免费套餐（不会删除任何数据）。',
  graceOver: '扣款失败，工作区已于 {date} 转为免费套餐（没有删除任何数据）。更新付款方式即可恢复原套餐。',
  portal: '付款方式与发票',
  cancel: '取消订阅',
  cancelConfirm: '在当前付费周期结束时取消？套餐保留至 {date}。',
  resume: '继续订阅',
  subscribe: '订阅',
  switchTo: '切换到此套餐',
  switched: '您的套餐已变更为 {plan}，差额将按比例计入下一张发票。',
  confirming: '感谢您的付款！Stripe 正在确认，本页面会自动更新。',
  confirmed: '您的订阅已生效。',
  checkoutCancelled: '已取消结账，未产生任何费用。',
  working: '正在打开 Stripe…',
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

const STATUSES: Record<string, TextKey> = {
  active: 'statusActive',
  trialing: 'statusTrialing',
  past_due: 'statusPastDue',
  unpaid: 'statusUnpaid',
  canceled: 'statusCanceled',
  incomplete: 'statusIncomplete',
};

/** A subscription's Stripe status in words. */
export function statusName(lang: Lang, status: string): string {
  const key = STATUSES[status];
  return key ? text(lang, key) : text(lang, 'statusOther', { status });
}

/** A feature's name. */
export function featureName(lang: Lang, feature: string): string {
  const key = FEATURES[feature];
  return key ? text(lang, key) : feature;
}
