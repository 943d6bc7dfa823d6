//! Visitor presence (F13, F14): which visitors are online and the page each is on.
//!
//! Keys, all scored or expiring so that a dead node's visitors go offline on their own:
//! - `kefu:v1:<tenant>:presence:visitors`: sorted set of online visitors, scored by expiry;
//! - `kefu:v1:<tenant>:presence:visitor:<visitor>`: sorted set of that visitor's connections
//!   (tabs), scored by expiry; the visitor is online while any is live;
//! - `kefu:v1:<tenant>:presence:page:<visitor>`: their current page (JSON), expiring.

use chrono::{DateTime, Utc};
use kefu_protocol::{TenantId, VisitorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Presence, Store, TTL_SECS, lock, now};

/// Most visitors one listing returns (the most recently refreshed first is not guaranteed; the
/// total is always exact).
pub const MAX_LISTED: usize = 500;

/// The page a visitor is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CurrentPage {
    /// Page URL.
    pub url: String,
    /// Page title.
    pub title: Option<String>,
    /// When they opened it.
    pub viewed_at: DateTime<Utc>,
}

/// An online visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineVisitor {
    /// The visitor.
    pub visitor_id: VisitorId,
    /// Their current page, once they reported one.
    pub current_page: Option<CurrentPage>,
}

fn online_key(tenant: TenantId) -> String {
    format!("kefu:v1:{{{}}}:presence:visitors", tenant.simple())
}

fn connections_key(tenant: TenantId, visitor: VisitorId) -> String {
    format!("kefu:v1:{{{}}}:presence:visitor:{}", tenant.simple(), visitor.simple())
}

fn page_key(tenant: TenantId, visitor: VisitorId) -> String {
    format!("kefu:v1:{{{}}}:presence:page:{}", tenant.simple(), visitor.simple())
}

/// Removes a connection; when it was the visitor's last live one, the visitor goes offline.
/// Atomic, so a tab opening at the same moment cannot be lost. Returns 1 when now offline.
const DISCONNECT: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[1], KEYS[3])
  return 1
end
return 0
";

/// Keeps this node's visitor connections (and their current pages) alive.
pub(super) async fn refresh(store: &Store, here: &[(TenantId, VisitorId, Uuid)]) -> redis::RedisResult<()> {
    let expires = now() + TTL_SECS;
    match store {
        Store::Local(store) => {
            let mut store = lock(store);
            for (tenant, visitor, connection) in here {
                store.set(&connections_key(*tenant, *visitor)).insert(connection.simple().to_string(), expires);
                store.set(&online_key(*tenant)).insert(visitor.simple().to_string(), expires);
                if let Some(value) = store.values.get_mut(&page_key(*tenant, *visitor)) {
                    value.1 = expires;
                }
            }
            Ok(())
        }
        Store::Redis(conn) => {
            let mut conn = conn.clone();
            // On a cluster a pipeline must stay in one slot: one per tenant (its hash tag).
            let mut here = here.to_vec();
            here.sort_by_key(|(tenant, _, _)| *tenant);
            let split_by_tenant = conn.is_cluster();
            let chunks = here.chunk_by(|a, b| !split_by_tenant || a.0 == b.0).flat_map(|group| group.chunks(500));
            for chunk in chunks {
                let mut pipe = redis::pipe();
                for (tenant, visitor, connection) in chunk {
                    let connections = connections_key(*tenant, *visitor);
                    pipe.zadd(&connections, connection.simple().to_string(), expires)
                        .ignore()
                        .expire(&connections, TTL_SECS * 2)
                        .ignore()
                        .zadd(online_key(*tenant), visitor.simple().to_string(), expires)
                        .ignore()
                        .expire(online_key(*tenant), TTL_SECS * 2)
                        .ignore()
                        .expire(page_key(*tenant, *visitor), TTL_SECS)
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
            Ok(())
        }
    }
}

impl Presence {
    /// Records one visitor connection. Returns whether the visitor just came online (no other
    /// live connection).
    pub async fn visitor_connected(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
        connection: Uuid,
    ) -> redis::RedisResult<bool> {
        let (online, connections, page) =
            (online_key(tenant), connections_key(tenant, visitor), page_key(tenant, visitor));
        let (now, expires, member) = (now(), now() + TTL_SECS, visitor.simple().to_string());
        match &self.store {
            Store::Local(store) => {
                let mut store = lock(store);
                let first = store.live(&connections).is_empty();
                store.set(&connections).insert(connection.simple().to_string(), expires);
                store.set(&online).insert(member, expires);
                if let Some(value) = store.values.get_mut(&page) {
                    value.1 = expires;
                }
                Ok(first)
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .zrembyscore(&connections, "-inf", now)
                    .ignore()
                    .zcard(&connections)
                    .zadd(&connections, connection.simple().to_string(), expires)
                    .ignore()
                    .expire(&connections, TTL_SECS * 2)
                    .ignore()
                    .zadd(&online, member, expires)
                    .ignore()
                    .zrembyscore(&online, "-inf", now)
                    .ignore()
                    .expire(&online, TTL_SECS * 2)
                    .ignore()
                    .expire(&page, TTL_SECS)
                    .ignore();
                let (before,): (u64,) = pipe.query_async(&mut conn).await?;
                Ok(before == 0)
            }
        }
    }

    /// Records the visitor's current page.
    pub async fn visitor_page(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
        page: &CurrentPage,
    ) -> redis::RedisResult<()> {
        let (key, value) = (page_key(tenant, visitor), serde_json::to_string(page).unwrap_or_default());
        match &self.store {
            Store::Local(store) => {
                lock(store).values.insert(key, (value, now() + TTL_SECS));
                Ok(())
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                redis::cmd("SET").arg(&key).arg(value).arg("EX").arg(TTL_SECS).query_async(&mut conn).await
            }
        }
    }

    /// Removes one visitor connection. Returns whether the visitor is now offline.
    pub async fn visitor_disconnected(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
        connection: Uuid,
    ) -> redis::RedisResult<bool> {
        let (online, connections, page) =
            (online_key(tenant), connections_key(tenant, visitor), page_key(tenant, visitor));
        match &self.store {
            Store::Local(store) => {
                let mut store = lock(store);
                store.set(&connections).remove(&connection.simple().to_string());
                if !store.live(&connections).is_empty() {
                    return Ok(false);
                }
                store.sets.remove(&connections);
                store.set(&online).remove(&visitor.simple().to_string());
                store.values.remove(&page);
                Ok(true)
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let offline: i64 = redis::Script::new(DISCONNECT)
                    .key(&connections)
                    .key(&online)
                    .key(&page)
                    .arg(connection.simple().to_string())
                    .arg(now())
                    .arg(visitor.simple().to_string())
                    .invoke_async(&mut conn)
                    .await?;
                Ok(offline == 1)
            }
        }
    }

    /// Online visitors (at most [`MAX_LISTED`]) with their current pages, and how many are online.
    pub async fn visitors_online(&self, tenant: TenantId) -> redis::RedisResult<(usize, Vec<OnlineVisitor>)> {
        let online = online_key(tenant);
        let (total, members): (usize, Vec<String>) = match &self.store {
            Store::Local(store) => {
                let members = lock(store).live(&online);
                (members.len(), members)
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let live = now() + 1;
                redis::pipe()
                    .zcount(&online, live, "+inf")
                    .cmd("ZRANGEBYSCORE")
                    .arg(&online)
                    .arg(live)
                    .arg("+inf")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(MAX_LISTED)
                    .query_async(&mut conn)
                    .await?
            }
        };
        // A raw UUID is genuinely needed here: members hold the bare hex of the id (no prefix).
        let visitors: Vec<VisitorId> =
            members.iter().take(MAX_LISTED).filter_map(|m| Uuid::parse_str(m).ok()).map(VisitorId::from_uuid).collect();
        let pages = self.pages(tenant, &visitors).await?;
        let listed = visitors
            .into_iter()
            .zip(pages)
            .map(|(visitor_id, current_page)| OnlineVisitor { visitor_id, current_page })
            .collect();
        Ok((total, listed))
    }

    /// One visitor, when online.
    pub async fn visitor_online(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
    ) -> redis::RedisResult<Option<OnlineVisitor>> {
        let connections = connections_key(tenant, visitor);
        let online = match &self.store {
            Store::Local(store) => !lock(store).live(&connections).is_empty(),
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                redis::cmd("ZCOUNT").arg(&connections).arg(now() + 1).arg("+inf").query_async::<u64>(&mut conn).await?
                    > 0
            }
        };
        if !online {
            return Ok(None);
        }
        let current_page = self.pages(tenant, &[visitor]).await?.pop().flatten();
        Ok(Some(OnlineVisitor { visitor_id: visitor, current_page }))
    }

    async fn pages(&self, tenant: TenantId, visitors: &[VisitorId]) -> redis::RedisResult<Vec<Option<CurrentPage>>> {
        if visitors.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = visitors.iter().map(|v| page_key(tenant, *v)).collect();
        let raw: Vec<Option<String>> = match &self.store {
            Store::Local(store) => {
                let store = lock(store);
                keys.iter().map(|k| store.value(k)).collect()
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?
            }
        };
        Ok(raw.into_iter().map(|v| v.and_then(|json| serde_json::from_str(&json).ok())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewId;

    #[tokio::test]
    async fn a_visitor_is_online_while_any_tab_is_and_keeps_the_latest_page() {
        let presence = Presence::local();
        let tenant = TenantId::new_v7();
        let visitor = VisitorId::new_v7();
        let (tab1, tab2) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(presence.visitor_connected(tenant, visitor, tab1).await.expect("connect"));
        assert!(!presence.visitor_connected(tenant, visitor, tab2).await.expect("connect"));
        let page = CurrentPage {
            url: "https://shop.example/cart".into(),
            title: Some("购物车".into()),
            viewed_at: Utc::now(),
        };
        presence.visitor_page(tenant, visitor, &page).await.expect("page");
        let (total, listed) = presence.visitors_online(tenant).await.expect("list");
        assert_eq!((total, listed), (1, vec![OnlineVisitor { visitor_id: visitor, current_page: Some(page) }]));
        assert!(!presence.visitor_disconnected(tenant, visitor, tab1).await.expect("disconnect"));
        assert!(presence.visitor_disconnected(tenant, visitor, tab2).await.expect("disconnect"));
        assert_eq!(presence.visitor_online(tenant, visitor).await.expect("one"), None);
        assert_eq!(presence.visitors_online(tenant).await.expect("list").0, 0);
    }
}
