// The English core pack: the console's core words and Ant Design's own texts, one lazily loaded
// chunk that main.tsx loads before the first render (a member downloads only the pack of their
// language; the areas' words come with their pages: docs/console.md, "Weight").
import enUS from 'antd/es/locale/en_US';
import { words } from './en/core';
import type { Pack } from './packs';

export const pack: Pack = { dict: words, antd: enUS };
