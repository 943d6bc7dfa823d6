//! Searching a tenant's history (F23, docs/search.md): the tokenizer shared by documents,
//! queries and highlights (`text`), the query syntax (`query`), highlighted snippets
//! (`highlight`) and the indexer that turns committed messages into index entries (`indexer`).
//! The index lives in the tenant's schema (`db::search`), so it is placed, moved, backed up and
//! erased with the tenant, and every node can search any tenant.

pub mod highlight;
pub mod indexer;
pub mod query;
pub mod text;

pub use indexer::{Indexer, IndexerHandle};
