// The English language pack: the console's dictionary and Ant Design's own texts, one lazily
// loaded chunk (a member downloads only the pack of their language: docs/console.md, "Weight").
import enUS from 'antd/es/locale/en_US';
import { en } from './en';
import type { Pack } from './index';

export const pack: Pack = { dict: en, antd: enUS };
