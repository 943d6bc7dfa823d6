// The widget's own words in every language the product supports (the tenant's texts — title,
// greeting, offline message, placeholder — come from its settings).

const en = {
  close: 'Close chat',
  send: 'Send',
  emoji: 'Insert emoji',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  failed: 'Chat is unavailable on this page.',
  pending: 'Sending…',
  failedMessage: 'Not sent',
  retry: 'Retry',
  discard: 'Delete',
  read: 'Read',
  typing: (name: string) => `${name} is typing…`,
  transcript: 'Download transcript',
  messages: 'Messages',
  you: 'You',
  tooLong: 'Your message is too long (4000 characters at most).',
  newMessage: 'New message',
  composer: 'Type your message',
};

export type Strings = typeof en;

const zhCN: Strings = {
  close: '关闭对话',
  send: '发送',
  emoji: '插入表情',
  connecting: '正在连接…',
  reconnecting: '连接已断开，正在重新连接…',
  failed: '此页面暂时无法使用在线客服。',
  pending: '发送中…',
  failedMessage: '发送失败',
  retry: '重试',
  discard: '删除',
  read: '已读',
  typing: (name: string) => `${name} 正在输入…`,
  transcript: '下载聊天记录',
  messages: '消息',
  you: '我',
  tooLong: '消息过长（最多 4000 个字符）。',
  newMessage: '新消息',
  composer: '输入消息',
};

export const STRINGS: Record<string, Strings> = { en, 'zh-CN': zhCN };

export function strings(language: string): Strings {
  return STRINGS[language] || en;
}
