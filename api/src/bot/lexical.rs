//! The lexical matcher (the default, and the fallback of the semantic one): a question becomes a
//! set of terms, each weighted by how rare it is in the knowledge base, and is scored against
//! every phrasing of every entry by cosine similarity (docs/bot.md).
//!
//! Terms: text is normalised (full-width forms to ASCII, lowercase); runs of Chinese characters
//! are segmented into words by jieba (Chinese is not space-separated), other runs are split into
//! words and stemmed (Snowball English: "refunds", "refunded" → "refund"); function words of
//! either language are dropped. A term's weight is its inverse document frequency over the
//! knowledge base's phrasings, `ln((N + 1) / (df + 0.5))`; a term the knowledge base never uses
//! weighs the most, so a question about something else scores low even when it shares a word.
//! The score of a phrasing is `Σ w² over shared terms / (‖question‖ · ‖phrasing‖)`, in [0, 1];
//! an entry scores its best phrasing.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Words that carry no topic: dropped from questions and phrasings alike.
const STOPWORDS: &[&str] = &[
    // English (before stemming).
    "a",
    "about",
    "am",
    "an",
    "and",
    "any",
    "are",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "do",
    "does",
    "for",
    "from",
    "get",
    "got",
    "have",
    "has",
    "hello",
    "hey",
    "hi",
    "how",
    "i",
    "i'm",
    "if",
    "in",
    "is",
    "it",
    "it's",
    "me",
    "my",
    "of",
    "on",
    "or",
    "our",
    "please",
    "so",
    "that",
    "the",
    "there",
    "this",
    "to",
    "u",
    "us",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "thanks",
    "thank",
    "pls",
    "plz",
    "just",
    "still",
    "yet",
    "should",
    "need",
    "want",
    "know",
    "tell",
    "way",
    "there's",
    "im",
    "dont",
    "don't",
    "did",
    "been",
    "than",
    "then",
    "some",
    "too",
    "very",
    "also",
    "as",
    "all",
    "not",
    "no",
    // Chinese.
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "嘛",
    "哦",
    "么",
    "我",
    "我们",
    "你",
    "你们",
    "您",
    "他",
    "她",
    "它",
    "是",
    "在",
    "有",
    "和",
    "与",
    "或",
    "就",
    "都",
    "也",
    "还",
    "请",
    "请问",
    "问",
    "问一下",
    "一下",
    "想",
    "想要",
    "要",
    "能",
    "能不能",
    "可以",
    "可不可以",
    "吗",
    "怎么",
    "怎么样",
    "怎样",
    "如何",
    "什么",
    "哪",
    "哪里",
    "哪儿",
    "多少",
    "几",
    "这",
    "那",
    "这个",
    "那个",
    "个",
    "一个",
    "你好",
    "您好",
    "谢谢",
    "好",
    "麻烦",
    "下",
    "一",
    "会",
    "得",
    "地",
    "着",
    "过",
    "把",
    "被",
    "给",
    "让",
    "该",
    "呃",
    "嗯",
    "吗？",
    "么？",
    "啥",
    "咋",
    "为什么",
    "现在",
    "已经",
    "一直",
    "到底",
    "是否",
    "需要",
];

static STOPWORD_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOPWORDS.iter().copied().collect());

/// Whether `c` is written in Chinese characters (CJK unified ideographs and extension A).
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Full-width ASCII forms to ASCII, the ideographic space to a space, and lowercase.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The terms of a text, in order, with repeats.
pub fn terms(text: &str) -> Vec<String> {
    let text = normalise(text);
    let mut out = Vec::new();
    let mut run = String::new();
    let mut run_is_han = false;
    let flush = |run: &mut String, han: bool, out: &mut Vec<String>| {
        if run.is_empty() {
            return;
        }
        if han {
            for token in JIEBA.cut(run, true) {
                let word = token.word;
                if !STOPWORD_SET.contains(word) {
                    out.push(word.to_owned());
                }
            }
        } else {
            let word = run.strip_suffix("'s").unwrap_or(run).trim_end_matches('\'');
            if !word.is_empty() && !STOPWORD_SET.contains(word) {
                out.push(ENGLISH.stem(word).into_owned());
            }
        }
        run.clear();
    };
    for c in text.chars() {
        let han = is_han(c);
        let word_char = han || c.is_alphanumeric() || (c == '\'' && !run.is_empty() && !run_is_han);
        if !word_char || (han != run_is_han && !run.is_empty()) {
            flush(&mut run, run_is_han, &mut out);
        }
        if word_char {
            run_is_han = han;
            run.push(c);
        }
    }
    flush(&mut run, run_is_han, &mut out);
    out
}

/// One phrasing, as weighted terms.
struct Phrasing {
    entry: usize,
    terms: Vec<(String, f32)>,
    norm: f32,
}

/// The knowledge base as weighted terms, ready to score questions.
pub struct LexicalIndex {
    phrasings: Vec<Phrasing>,
    idf: HashMap<String, f32>,
    unknown_idf: f32,
    entries: usize,
}

impl LexicalIndex {
    /// An index of `entries`, each given as its phrasings (the question and its alternatives).
    pub fn build<S: AsRef<str>>(entries: &[Vec<S>]) -> Self {
        let phrasing_terms: Vec<(usize, HashSet<String>)> = entries
            .iter()
            .enumerate()
            .flat_map(|(entry, phrasings)| {
                phrasings.iter().map(move |p| (entry, terms(p.as_ref()).into_iter().collect()))
            })
            .collect();
        let mut df: HashMap<&str, u32> = HashMap::new();
        for (_, set) in &phrasing_terms {
            for term in set {
                *df.entry(term.as_str()).or_default() += 1;
            }
        }
        let n = phrasing_terms.len() as f32;
        let weight = |df: f32| ((n + 1.0) / (df + 0.5)).ln();
        let idf: HashMap<String, f32> = df.iter().map(|(t, d)| ((*t).to_owned(), weight(*d as f32))).collect();
        let phrasings = phrasing_terms
            .iter()
            .map(|(entry, set)| {
                let terms: Vec<(String, f32)> = set.iter().map(|t| (t.clone(), idf[t.as_str()])).collect();
                let norm = terms.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                Phrasing { entry: *entry, terms, norm }
            })
            .collect();
        Self { phrasings, idf, unknown_idf: weight(0.0), entries: entries.len() }
    }

    /// Each entry's score for `question`, in [0, 1], by entry index.
    pub fn scores(&self, question: &str) -> Vec<f32> {
        let mut scores = vec![0.0_f32; self.entries];
        let query: HashMap<String, f32> = terms(question)
            .into_iter()
            .map(|t| {
                let w = self.idf.get(&t).copied().unwrap_or(self.unknown_idf);
                (t, w)
            })
            .collect();
        let query_norm = query.values().map(|w| w * w).sum::<f32>().sqrt();
        if query_norm == 0.0 {
            return scores;
        }
        for phrasing in &self.phrasings {
            if phrasing.norm == 0.0 {
                continue;
            }
            let shared: f32 = phrasing.terms.iter().filter_map(|(t, w)| query.get(t).map(|q| q * w)).sum();
            let score = (shared / (query_norm * phrasing.norm)).clamp(0.0, 1.0);
            if score > scores[phrasing.entry] {
                scores[phrasing.entry] = score;
            }
        }
        scores
    }

    /// Whether `question` has any term at all (a bare greeting has none).
    pub fn has_terms(question: &str) -> bool {
        !terms(question).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_segmented_into_words_and_function_words_dropped() {
        let t = terms("请问我的退款多久到账？");
        assert!(t.contains(&"退款".to_owned()), "{t:?}");
        assert!(!t.iter().any(|w| w == "的" || w == "请问"), "{t:?}");
    }

    #[test]
    fn english_is_stemmed_and_full_width_forms_folded() {
        assert_eq!(terms("Refunds REFUNDED"), vec!["refund", "refund"]);
        assert_eq!(terms("ＶＩＰ　ｃａｒｄ"), vec!["vip", "card"]);
        assert_eq!(terms("订单status"), vec!["订单", "status"]);
    }

    #[test]
    fn the_matching_entry_scores_highest_and_an_unrelated_question_low() {
        let index = LexicalIndex::build(&[
            vec!["退款多久到账？", "钱什么时候退回来"],
            vec!["支持哪些支付方式？", "可以用微信支付吗"],
            vec!["How long does shipping take?", "When will my order arrive?"],
        ]);
        let s = index.scores("我的退款多久能到账");
        assert!(s[0] > 0.7 && s[1] < 0.2 && s[2] == 0.0, "{s:?}");
        let s = index.scores("how long does shipping usually take");
        assert!(s[2] > 0.7, "{s:?}");
        let s = index.scores("今天天气怎么样");
        assert!(s.iter().all(|x| *x < 0.1), "{s:?}");
        assert!(index.scores("你好").iter().all(|x| *x == 0.0));
        assert!(!LexicalIndex::has_terms("你好！"));
    }
}
