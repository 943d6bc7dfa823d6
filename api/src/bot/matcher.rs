//! A tenant's knowledge base ready to match questions: its entries with both matchers' indexes,
//! and the ranking both share (language preference, best entry, related questions).

use std::sync::Arc;

use kefu_protocol::KbEntryId;

use super::embeddings::{Embeddings, dot};
use super::lexical::{LexicalIndex, is_han};

/// Related questions offered with an answer at most.
pub const MAX_RELATED: usize = 3;
/// A related question scores at least this much.
pub const RELATED_MIN: f32 = 0.3;

/// Which matcher scored a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatcherKind {
    /// Weighted terms (jieba for Chinese).
    Lexical,
    /// Embeddings from the configured endpoint.
    Semantic,
}

impl MatcherKind {
    /// The database name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatcherKind::Lexical => "lexical",
            MatcherKind::Semantic => "semantic",
        }
    }
}

/// One entry as matched.
#[derive(Debug, Clone)]
pub struct IndexedEntry {
    /// Id.
    pub id: KbEntryId,
    /// Language tag (`zh-CN`, `en`, …).
    pub language: String,
    /// The main question (offered as a related question).
    pub question: String,
    /// The question and its alternatives.
    pub phrasings: Vec<String>,
    /// The answer.
    pub answer: String,
}

/// Embeddings of every phrasing, by entry.
pub struct SemanticIndex {
    vectors: Vec<(usize, Vec<f32>)>,
}

/// A knowledge base ready to match.
pub struct KnowledgeIndex {
    /// The entries, by index.
    pub entries: Vec<IndexedEntry>,
    lexical: LexicalIndex,
    semantic: Option<SemanticIndex>,
}

/// A question's ranking.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Which matcher scored it.
    pub matcher: MatcherKind,
    /// Entries of the preferred language, best first, with their scores.
    pub ranked: Vec<(usize, f32)>,
}

impl Ranking {
    /// The best entry and its score.
    pub fn best(&self) -> Option<(usize, f32)> {
        self.ranked.first().copied()
    }

    /// Entries after the best that score at least [`RELATED_MIN`], at most [`MAX_RELATED`].
    pub fn related(&self) -> impl Iterator<Item = usize> + '_ {
        self.ranked.iter().skip(1).take_while(|(_, s)| *s >= RELATED_MIN).take(MAX_RELATED).map(|(i, _)| *i)
    }
}

impl KnowledgeIndex {
    /// The lexical index of `entries` (no embeddings yet).
    pub fn new(entries: Vec<IndexedEntry>) -> Self {
        let phrasings: Vec<Vec<&str>> =
            entries.iter().map(|e| e.phrasings.iter().map(String::as_str).collect()).collect();
        let lexical = LexicalIndex::build(&phrasings);
        Self { entries, lexical, semantic: None }
    }

    /// This index with the embeddings of every phrasing.
    pub async fn with_embeddings(
        entries: Vec<IndexedEntry>,
        embeddings: &Embeddings,
    ) -> Result<Self, super::embeddings::EmbedError> {
        let owners: Vec<(usize, String)> =
            entries.iter().enumerate().flat_map(|(i, e)| e.phrasings.iter().map(move |p| (i, p.clone()))).collect();
        let texts: Vec<String> = owners.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embeddings.many(&texts).await?;
        let mut index = Self::new(entries);
        index.semantic = Some(SemanticIndex { vectors: owners.into_iter().map(|(i, _)| i).zip(vectors).collect() });
        Ok(index)
    }

    /// Whether the index has embeddings.
    pub fn has_embeddings(&self) -> bool {
        self.semantic.is_some()
    }

    /// Ranks the entries for `question` with the lexical matcher.
    pub fn rank_lexical(&self, question: &str) -> Ranking {
        self.ranking(question, MatcherKind::Lexical, self.lexical.scores(question))
    }

    /// Ranks the entries for `question` with the semantic matcher when the index has embeddings
    /// and the endpoint answers in time, else with the lexical one.
    pub async fn rank(&self, question: &str, embeddings: Option<&Embeddings>) -> Ranking {
        if let (Some(semantic), Some(embeddings)) = (&self.semantic, embeddings) {
            match embeddings.question(question).await {
                Ok(q) => {
                    let mut scores = vec![0.0_f32; self.entries.len()];
                    for (entry, v) in &semantic.vectors {
                        let score = embeddings.score(dot(&q, v));
                        if score > scores[*entry] {
                            scores[*entry] = score;
                        }
                    }
                    return self.ranking(question, MatcherKind::Semantic, scores);
                }
                Err(error) => {
                    metrics::counter!("kefu_bot_embeddings_failed_total").increment(1);
                    tracing::warn!(%error, "embeddings unavailable; the lexical matcher answers");
                }
            }
        }
        self.rank_lexical(question)
    }

    /// Entries in the question's language first: Chinese entries for a question in Chinese
    /// characters, the others otherwise; all entries when the knowledge base has none of those.
    fn ranking(&self, question: &str, matcher: MatcherKind, scores: Vec<f32>) -> Ranking {
        let chinese = question.chars().any(is_han);
        let preferred = |e: &IndexedEntry| e.language.starts_with("zh") == chinese;
        let any_preferred = self.entries.iter().any(preferred);
        let mut ranked: Vec<(usize, f32)> =
            scores.into_iter().enumerate().filter(|(i, _)| !any_preferred || preferred(&self.entries[*i])).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ranking { matcher, ranked }
    }
}

/// A shared index.
pub type SharedIndex = Arc<KnowledgeIndex>;
