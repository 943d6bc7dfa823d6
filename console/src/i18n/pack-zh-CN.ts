// The Simplified Chinese language pack: the console's dictionary and Ant Design's own texts, one
// lazily loaded chunk (a member downloads only the pack of their language: docs/console.md, "Weight").
import zhCNAntd from 'antd/es/locale/zh_CN';
import { zhCN } from './zh-CN';
import type { Pack } from './index';

export const pack: Pack = { dict: zhCN, antd: zhCNAntd };
