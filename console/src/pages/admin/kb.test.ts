import { describe, expect, it } from 'vitest';
import { formatOf, languagesOf, lineErrors, LANGUAGE_TAG, matches, phrasings } from './kb';

describe('knowledge base', () => {
  it('reads phrasings one per line, trimmed, without blanks or repeats', () => {
    expect(phrasings(' 退款什么时候到 \n\n钱多久退回\n退款什么时候到\n')).toEqual(['退款什么时候到', '钱多久退回']);
    expect(phrasings(undefined)).toEqual([]);
  });

  it('offers zh-CN and en first, then the other languages entries use', () => {
    expect(languagesOf([{ language: 'ja' }, { language: 'en' }, { language: 'de' }, { language: 'ja' }])).toEqual(['zh-CN', 'en', 'de', 'ja']);
    expect(languagesOf([])).toEqual(['zh-CN', 'en']);
  });

  it('searches the question, the phrasings and the answer in any case', () => {
    const entry = { question: 'Where is my ORDER?', alternatives: ['退款多久到账'], answer: 'Tracking is in your email.' };
    expect(matches(entry, 'order')).toBe(true);
    expect(matches(entry, '到账')).toBe(true);
    expect(matches(entry, 'TRACKING')).toBe(true);
    expect(matches(entry, '  ')).toBe(true);
    expect(matches(entry, 'refund')).toBe(false);
  });

  it('knows a file format by its name and language tags as the api does', () => {
    expect(formatOf('faq.CSV')).toBe('csv');
    expect(formatOf('kb.json')).toBe('json');
    expect(formatOf('kb.txt')).toBeUndefined();
    for (const ok of ['zh-CN', 'en', 'zh-Hant-TW', 'yue']) expect(LANGUAGE_TAG.test(ok), ok).toBe(true);
    for (const bad of ['english', 'EN', 'zh_CN', 'z', '']) expect(LANGUAGE_TAG.test(bad), bad).toBe(false);
  });

  it('turns an import refusal into lines in order, without the api’s line prefix', () => {
    const errors = lineErrors([
      { field: 'lines[4].language', code: 'invalid', message: 'Line 4: "english" is not a language tag such as zh-CN or en.' },
      { field: 'lines[3].question', code: 'invalid', message: 'Line 3: The question is empty.' },
      { field: 'lines[3].alternatives[1]', code: 'invalid', message: 'Line 3: The alternative is empty.' },
      { field: 'lines[9]', code: 'invalid', message: 'Line 9: enabled is "maybe"; write true or false.' },
      { field: 'file', code: 'invalid', message: 'Line 1: The header row must name the columns language, question, answer.' },
    ]);
    expect(errors).toEqual([
      { line: 1, field: undefined, message: 'The header row must name the columns language, question, answer.' },
      { line: 3, field: 'question', message: 'The question is empty.' },
      { line: 3, field: 'alternatives', message: 'The alternative is empty.' },
      { line: 4, field: 'language', message: '"english" is not a language tag such as zh-CN or en.' },
      { line: 9, field: undefined, message: 'enabled is "maybe"; write true or false.' },
    ]);
    expect(lineErrors([{ field: 'file', code: 'invalid', message: 'The file holds no entries.' }])).toEqual([
      { line: undefined, field: undefined, message: 'The file holds no entries.' },
    ]);
  });
});
