//! Agent presence (F16): which agents are connected, with which status.
//!
//! Each agent connection holds a member `<user>:<connection>:<status>` in the tenant's sorted set
//! `kefu:v1:<tenant>:presence:agents` (who is connected, for listings and availability) and in the
//! agent's own `kefu:v1:<tenant>:presence:agent:<user>` (so one agent's status costs a read of
//! their connections, not of the whole team's), both scored by its expiry time. An agent's status
//! is the best one among their live connections (online > busy > away); with none they are
//! offline.

use std::collections::BTreeMap;

use kefu_protocol::ws::AgentStatus;
use kefu_protocol::{TenantId, UserId};
use uuid::Uuid;

use super::{Presence, Store, TTL_SECS, lock, now};

fn key(tenant: TenantId) -> String {
    format!("kefu:v1:{{{}}}:presence:agents", tenant.simple())
}

fn agent_key(tenant: TenantId, user: UserId) -> String {
    format!("kefu:v1:{{{}}}:presence:agent:{}", tenant.simple(), user.simple())
}

fn member(user: UserId, connection: Uuid, status: AgentStatus) -> String {
    format!("{}:{}:{}", user.simple(), connection.simple(), status_name(status))
}

fn status_name(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Online => "online",
        AgentStatus::Busy => "busy",
        AgentStatus::Away => "away",
        AgentStatus::Offline => "offline",
    }
}

fn parse_member(member: &str) -> Option<(UserId, AgentStatus)> {
    let mut parts = member.split(':');
    let user = Uuid::parse_str(parts.next()?).ok()?;
    let _connection = parts.next()?;
    let status = match parts.next()? {
        "online" => AgentStatus::Online,
        "busy" => AgentStatus::Busy,
        "away" => AgentStatus::Away,
        _ => return None,
    };
    // A raw UUID is genuinely needed here: members hold the bare hex of the id (no prefix).
    Some((UserId::from_uuid(user), status))
}

fn rank(status: AgentStatus) -> u8 {
    match status {
        AgentStatus::Online => 3,
        AgentStatus::Busy => 2,
        AgentStatus::Away => 1,
        AgentStatus::Offline => 0,
    }
}

impl Presence {
    /// Records (or refreshes) one connection's status, replacing its previous one.
    pub async fn set(
        &self,
        tenant: TenantId,
        user: UserId,
        connection: Uuid,
        previous: Option<AgentStatus>,
        status: AgentStatus,
    ) -> redis::RedisResult<()> {
        let keys = [key(tenant), agent_key(tenant, user)];
        let new = member(user, connection, status);
        let old = previous.filter(|p| *p != status).map(|p| member(user, connection, p));
        let expires = now() + TTL_SECS;
        match &self.store {
            Store::Local(store) => {
                let mut store = lock(store);
                for key in &keys {
                    let set = store.set(key);
                    if let Some(old) = &old {
                        set.remove(old);
                    }
                    set.insert(new.clone(), expires);
                }
                Ok(())
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &keys {
                    if let Some(old) = &old {
                        pipe.zrem(key, old).ignore();
                    }
                    pipe.zadd(key, &new, expires).ignore();
                    pipe.zrembyscore(key, "-inf", now()).ignore();
                    pipe.expire(key, TTL_SECS * 2).ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            }
        }
    }

    /// Removes one connection.
    pub async fn clear(
        &self,
        tenant: TenantId,
        user: UserId,
        connection: Uuid,
        status: AgentStatus,
    ) -> redis::RedisResult<()> {
        let keys = [key(tenant), agent_key(tenant, user)];
        let old = member(user, connection, status);
        match &self.store {
            Store::Local(store) => {
                let mut store = lock(store);
                for key in &keys {
                    store.set(key).remove(&old);
                }
                Ok(())
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &keys {
                    pipe.zrem(key, &old).ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            }
        }
    }

    /// Every agent with at least one live connection, with their best status.
    pub async fn agents(&self, tenant: TenantId) -> redis::RedisResult<BTreeMap<UserId, AgentStatus>> {
        let key = key(tenant);
        let members: Vec<String> = match &self.store {
            Store::Local(store) => lock(store).live(&key),
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                redis::cmd("ZRANGEBYSCORE").arg(&key).arg(now() + 1).arg("+inf").query_async(&mut conn).await?
            }
        };
        let mut agents = BTreeMap::new();
        for (user, status) in members.iter().filter_map(|m| parse_member(m)) {
            let best = agents.entry(user).or_insert(status);
            if rank(status) > rank(*best) {
                *best = status;
            }
        }
        Ok(agents)
    }

    /// One agent's effective status.
    pub async fn status_of(&self, tenant: TenantId, user: UserId) -> AgentStatus {
        let key = agent_key(tenant, user);
        let members: redis::RedisResult<Vec<String>> = match &self.store {
            Store::Local(store) => Ok(lock(store).live(&key)),
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                redis::cmd("ZRANGEBYSCORE").arg(&key).arg(now() + 1).arg("+inf").query_async(&mut conn).await
            }
        };
        match members {
            Ok(members) => members
                .iter()
                .filter_map(|m| parse_member(m))
                .map(|(_, status)| status)
                .max_by_key(|status| rank(*status))
                .unwrap_or(AgentStatus::Offline),
            Err(error) => {
                tracing::warn!(%error, "presence unavailable");
                AgentStatus::Offline
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewId;

    #[tokio::test]
    async fn best_status_wins_and_cleared_connections_disappear() {
        let presence = Presence::local();
        let tenant = TenantId::new_v7();
        let user = UserId::new_v7();
        let (tab1, tab2) = (Uuid::now_v7(), Uuid::now_v7());
        presence.set(tenant, user, tab1, None, AgentStatus::Away).await.expect("set");
        presence.set(tenant, user, tab2, None, AgentStatus::Online).await.expect("set");
        assert_eq!(presence.status_of(tenant, user).await, AgentStatus::Online);
        presence.set(tenant, user, tab2, Some(AgentStatus::Online), AgentStatus::Busy).await.expect("set");
        assert_eq!(presence.status_of(tenant, user).await, AgentStatus::Busy);
        presence.clear(tenant, user, tab2, AgentStatus::Busy).await.expect("clear");
        assert_eq!(presence.status_of(tenant, user).await, AgentStatus::Away);
        presence.clear(tenant, user, tab1, AgentStatus::Away).await.expect("clear");
        assert_eq!(presence.status_of(tenant, user).await, AgentStatus::Offline);
    }
}
