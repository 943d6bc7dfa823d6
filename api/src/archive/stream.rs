//! A filtered selection of conversations streamed as an archive: conversations are read a page
//! at a time (each page in its own short transaction), written, and sent, so memory holds one
//! page whatever the selection's size.

use std::collections::HashMap;

use futures_util::Stream;
use kefu_protocol::ConversationId;

use super::format::{self, Format};
use crate::db::messages::MessageRow;
use crate::db::search::Filter;
use crate::db::{self, Databases, TenantSchema, TenantTx};

/// Conversations read and written per page.
const PAGE: i64 = 50;

/// How many conversations match `filter`, counting at most `cap + 1` (so a caller can refuse a
/// selection over `cap` without counting all of it).
pub async fn count_up_to(databases: &Databases, schema: &TenantSchema, filter: &Filter, cap: i64) -> sqlx::Result<i64> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    let count = db::search::count_conversations(&mut tx, filter, cap).await?;
    tx.commit().await?;
    Ok(count)
}

/// The archive of the conversations matching `filter`, newest first, as chunks of bytes.
pub fn archive(
    databases: Databases,
    schema: TenantSchema,
    filter: Filter,
    format: Format,
) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct State {
        databases: Databases,
        schema: TenantSchema,
        filter: Filter,
        format: Format,
        after: Option<ConversationId>,
        written: u64,
        opened: bool,
        done: bool,
    }
    let start = State { databases, schema, filter, format, after: None, written: 0, opened: false, done: false };
    futures_util::stream::unfold(start, |mut state| async move {
        if state.done {
            return None;
        }
        if !state.opened {
            state.opened = true;
            return Some((Ok(state.format.opening()), state));
        }
        let page = async {
            let mut tx = TenantTx::begin(&state.databases, &state.schema).await?;
            let ids = db::search::conversations(&mut tx, &state.filter, state.after, PAGE).await?;
            let conversations = db::archive::conversations(&mut tx, &ids).await?;
            let messages = db::archive::messages(&mut tx, &ids).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((ids, conversations, messages))
        }
        .await;
        let (ids, conversations, messages) = match page {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%error, "an archive failed mid-stream");
                state.done = true;
                return Some((Err(std::io::Error::other("the conversations could not be read")), state));
            }
        };
        let mut by_conversation: HashMap<ConversationId, Vec<MessageRow>> = HashMap::new();
        for message in messages {
            by_conversation.entry(message.conversation_id).or_default().push(message);
        }
        let mut out = Vec::new();
        for conversation in &conversations {
            let mine = by_conversation.remove(&conversation.id).unwrap_or_default();
            format::write(state.format, conversation, &mine, state.written == 0, &mut out);
            state.written += 1;
        }
        state.after = ids.last().copied();
        if i64::try_from(ids.len()).unwrap_or(0) < PAGE {
            state.done = true;
            out.extend_from_slice(&state.format.closing());
        }
        Some((Ok(out), state))
    })
}
