// Simplified Chinese words of the settings area: every key of en/settings.ts, or `tsc` fails.
// 简体中文：每个英文键都必须有译文。
import type { Dict } from '../words';

export const words: Dict<'settings'> = {
  'settings.desktop': '桌面通知',
  'settings.desktopDenied': '浏览器已阻止此网站的通知，请在网站设置中允许。',
  'settings.desktopEnable': '开启',
  'settings.desktopOn': '已开启',
  'settings.preferences': '偏好设置',
  'settings.profile': '个人资料',
  'settings.sound': '新会话和新消息提示音',
};
