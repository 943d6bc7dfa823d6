// English words of the settings area: the member's settings page (pages/settings.tsx); loaded with it (packs.ts,
// withWords).
// The reference: zh-CN/settings.ts must have every key (docs/console.md, "Languages").
export const words = {
  'settings.desktop': 'Desktop notifications',
  'settings.desktopDenied': 'Your browser blocks notifications for this site; allow them in its site settings.',
  'settings.desktopEnable': 'Enable',
  'settings.desktopOn': 'On',
  'settings.preferences': 'Preferences',
  'settings.profile': 'Profile',
  'settings.sound': 'Sound for new conversations and messages',
} as const;
