// The Simplified Chinese core pack: the console's core words and Ant Design's own texts, one lazily
// loaded chunk that main.tsx loads before the first render (a member downloads only the pack of
// their language; the areas' words come with their pages: docs/console.md, "Weight").
import zhCNAntd from 'antd/es/locale/zh_CN';
import { words } from './zh-CN/core';
import type { Pack } from './packs';

export const pack: Pack = { dict: words, antd: zhCNAntd };
