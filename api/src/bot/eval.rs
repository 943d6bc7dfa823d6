//! The matchers' evaluation: a labelled set of visitor questions against a knowledge base
//! (`api/bot-eval/`, Chinese and English, with paraphrases and questions that must not match),
//! and the precision, recall and hand-off rate each matcher reaches at a threshold
//! (`kefu bot-eval`; figures in docs/bot.md).

use kefu_protocol::KbEntryId;
use serde::Deserialize;

use super::embeddings::Embeddings;
use super::matcher::{IndexedEntry, KnowledgeIndex, MatcherKind};

/// The shipped knowledge base (a shop's FAQ in zh-CN and en).
pub const KB: &str = include_str!("../../bot-eval/kb.json");
/// The shipped labelled questions.
pub const QUESTIONS: &str = include_str!("../../bot-eval/questions.json");

/// A knowledge-base entry of the evaluation set (also the demo tenant's knowledge base).
#[derive(Debug, Clone, Deserialize)]
pub struct EvalEntry {
    /// A stable name the questions refer to.
    pub key: String,
    /// Language tag.
    pub language: String,
    /// The main question.
    pub question: String,
    /// Other phrasings.
    pub alternatives: Vec<String>,
    /// The answer.
    pub answer: String,
}

/// A labelled visitor question.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalQuestion {
    /// What the visitor writes.
    pub question: String,
    /// Its language.
    pub language: String,
    /// The entry that answers it, or `None` when none does (the bot must hand off).
    pub expect: Option<String>,
    /// `exact`, `paraphrase` or `negative`.
    pub kind: String,
}

/// One matcher's figures at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Questions.
    pub questions: usize,
    /// Answered with the right entry.
    pub right: usize,
    /// Answered with a wrong entry (or answered although nothing matches).
    pub wrong: usize,
    /// Handed to a person.
    pub handed_off: usize,
    /// Questions an entry answers.
    pub answerable: usize,
}

impl Figures {
    /// Right answers among answers (1 when nothing was answered).
    pub fn precision(&self) -> f64 {
        let answered = self.right + self.wrong;
        if answered == 0 { 1.0 } else { self.right as f64 / answered as f64 }
    }

    /// Right answers among answerable questions.
    pub fn recall(&self) -> f64 {
        if self.answerable == 0 { 0.0 } else { self.right as f64 / self.answerable as f64 }
    }

    /// Hand-offs among all questions.
    pub fn handoff_rate(&self) -> f64 {
        if self.questions == 0 { 0.0 } else { self.handed_off as f64 / self.questions as f64 }
    }
}

/// The evaluation set, parsed.
pub struct EvalSet {
    /// Entries.
    pub entries: Vec<EvalEntry>,
    /// Questions.
    pub questions: Vec<EvalQuestion>,
}

impl EvalSet {
    /// The shipped set.
    pub fn shipped() -> Result<Self, serde_json::Error> {
        Self::parse(KB, QUESTIONS)
    }

    /// A set from the two files' texts.
    pub fn parse(kb: &str, questions: &str) -> Result<Self, serde_json::Error> {
        Ok(Self { entries: serde_json::from_str(kb)?, questions: serde_json::from_str(questions)? })
    }

    /// The entries as a matcher indexes them (ids are made up).
    pub fn indexed_entries(&self) -> Vec<IndexedEntry> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| IndexedEntry {
                id: KbEntryId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
                language: e.language.clone(),
                question: e.question.clone(),
                phrasings: std::iter::once(e.question.clone()).chain(e.alternatives.iter().cloned()).collect(),
                answer: e.answer.clone(),
            })
            .collect()
    }

    /// Every question's best entry key and score with `matcher` (semantic needs `embeddings`
    /// and an index built with them).
    pub async fn score(
        &self,
        index: &KnowledgeIndex,
        matcher: MatcherKind,
        embeddings: Option<&Embeddings>,
    ) -> Vec<Option<(String, f32)>> {
        let mut out = Vec::with_capacity(self.questions.len());
        for q in &self.questions {
            let ranking = match matcher {
                MatcherKind::Lexical => index.rank_lexical(&q.question),
                MatcherKind::Semantic => index.rank(&q.question, embeddings).await,
            };
            out.push(ranking.best().map(|(i, s)| (self.entries[i].key.clone(), s)));
        }
        out
    }

    /// The figures of `best` (from [`Self::score`]) at `threshold`, for questions of `kind`
    /// (all when `None`).
    pub fn figures(&self, best: &[Option<(String, f32)>], threshold: f32, kind: Option<&str>) -> Figures {
        let mut f = Figures { questions: 0, right: 0, wrong: 0, handed_off: 0, answerable: 0 };
        for (q, best) in self.questions.iter().zip(best) {
            if kind.is_some_and(|k| k != q.kind) {
                continue;
            }
            f.questions += 1;
            f.answerable += usize::from(q.expect.is_some());
            match best {
                Some((key, score)) if *score >= threshold => {
                    if q.expect.as_deref() == Some(key.as_str()) {
                        f.right += 1;
                    } else {
                        f.wrong += 1;
                    }
                }
                _ => f.handed_off += 1,
            }
        }
        f
    }
}

/// The report `kefu bot-eval` prints: for each matcher (semantic only with an endpoint), the
/// figures at `threshold`, by kind of question, and a sweep of thresholds.
pub async fn report(set: &EvalSet, threshold: f32, embeddings: Option<&Embeddings>) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let zh = set.questions.iter().filter(|q| q.language.starts_with("zh")).count();
    writeln!(
        out,
        "{} questions ({zh} Chinese, {} other) against {} entries; threshold {threshold:.2}\n",
        set.questions.len(),
        set.questions.len() - zh,
        set.entries.len()
    )?;
    let mut matchers = vec![(MatcherKind::Lexical, KnowledgeIndex::new(set.indexed_entries()))];
    if let Some(embeddings) = embeddings {
        matchers
            .push((MatcherKind::Semantic, KnowledgeIndex::with_embeddings(set.indexed_entries(), embeddings).await?));
    }
    for (matcher, index) in &matchers {
        let started = std::time::Instant::now();
        let best = set.score(index, *matcher, embeddings).await;
        let per_question = started.elapsed() / u32::try_from(set.questions.len().max(1)).unwrap_or(u32::MAX);
        writeln!(out, "{} matcher ({per_question:.1?} per question)", matcher.as_str())?;
        writeln!(
            out,
            "  {:<12} {:>9} {:>6} {:>6} {:>9} {:>7} {:>9}",
            "questions", "n", "right", "wrong", "precision", "recall", "hand-off"
        )?;
        for kind in [None, Some("exact"), Some("paraphrase"), Some("negative")] {
            let f = set.figures(&best, threshold, kind);
            let recall = if f.answerable == 0 { "-".to_owned() } else { format!("{:.3}", f.recall()) };
            writeln!(
                out,
                "  {:<12} {:>9} {:>6} {:>6} {:>9.3} {:>7} {:>9.3}",
                kind.unwrap_or("all"),
                f.questions,
                f.right,
                f.wrong,
                f.precision(),
                recall,
                f.handoff_rate()
            )?;
        }
        write!(out, "  sweep (threshold: precision / recall / hand-off):")?;
        for t in [0.5_f32, 0.6, 0.7, 0.8, 0.9] {
            let f = set.figures(&best, t, None);
            write!(out, "  {t:.1}: {:.2}/{:.2}/{:.2}", f.precision(), f.recall(), f.handoff_rate())?;
        }
        writeln!(out, "\n")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_set_is_large_labelled_and_consistent() {
        let set = EvalSet::shipped().expect("the shipped evaluation set parses");
        assert!(set.questions.len() >= 200, "at least 200 questions");
        for lang in ["zh-CN", "en"] {
            let of = |kind: &str| set.questions.iter().filter(|q| q.language == lang && q.kind == kind).count();
            assert!(of("paraphrase") >= 30 && of("negative") >= 30 && of("exact") >= 10, "{lang}");
        }
        for q in &set.questions {
            if let Some(key) = &q.expect {
                assert!(
                    set.entries.iter().any(|e| &e.key == key && e.language == q.language),
                    "{key} of {:?} is an entry of its language",
                    q.question
                );
            }
        }
    }

    /// The lexical matcher's floor on the shipped set at the default threshold: a change to the
    /// tokenizer or the weights that makes the bot answer wrongly more often fails here (the
    /// measured figures are in docs/bot.md).
    #[tokio::test]
    async fn the_lexical_matcher_is_precise_at_the_default_threshold() {
        let set = EvalSet::shipped().expect("parses");
        let index = KnowledgeIndex::new(set.indexed_entries());
        let best = set.score(&index, MatcherKind::Lexical, None).await;
        let all = set.figures(&best, 0.7, None);
        let exact = set.figures(&best, 0.7, Some("exact"));
        let negative = set.figures(&best, 0.7, Some("negative"));
        assert!(all.precision() >= 0.9, "precision {all:?}");
        assert!(exact.recall() >= 0.9, "near-verbatim questions are answered: {exact:?}");
        assert!(negative.wrong * 10 <= negative.questions, "at most 10 % of negatives answered: {negative:?}");
    }
}
