//! The connection to Redis, single server or Redis Cluster, as one type: `RedisLink` implements
//! `redis::aio::ConnectionLike`, so commands, pipelines and scripts run the same way on both.
//!
//! Keys that are used together (a tenant's presence sets, its visitors' pages, the keys of one
//! script) carry the tenant as a hash tag, `kefu:v1:{<tenant>}:…`, so on a cluster they live in one
//! slot. Pub/sub differs by mode and lives in `realtime::bus`: a single server is pattern-
//! subscribed; a cluster uses sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, Redis 7), one channel per
//! topic, subscribed while this node has subscribers.
//!
//! `rediss://` runs over rustls (aws-lc-rs, the process's one crypto provider), trusting the
//! system's roots or, with `redis.ca_file`, that CA only, and presenting `redis.client_cert_file`
//! when set (docs/security.md, "Encryption in transit").

use std::time::Duration;

use anyhow::Context as _;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, TlsCertificates, Value};

/// A connection to a single Redis or to a Redis Cluster. Cheap to clone (both multiplex).
#[derive(Clone)]
pub enum RedisLink {
    /// One server (reconnects by itself).
    Single(ConnectionManager),
    /// A cluster (routes by slot, follows the topology, reconnects by itself).
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl RedisLink {
    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// Where Redis is, from the configuration: one URL, or a cluster's seed nodes.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// `redis.url`.
    Single(String),
    /// `redis.cluster_nodes`.
    Cluster(Vec<String>),
}

/// The push messages (sharded pub/sub) of a cluster subscriber connection.
pub type Pushes = tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>;

/// The client of a single server: with `tls` (`rediss://` only, `Config::redis_tls`), its CA
/// replaces the system's trust store and its client certificate is presented.
pub fn client(url: &str, tls: Option<&TlsCertificates>) -> anyhow::Result<redis::Client> {
    match tls {
        None => redis::Client::open(url),
        Some(certificates) => redis::Client::build_with_tls(url, certificates.clone()),
    }
    .context("invalid redis.url")
}

/// Connects to a single server with reconnects; fails after a bounded wait at start.
pub async fn connect_single(url: &str, tls: Option<&TlsCertificates>) -> anyhow::Result<ConnectionManager> {
    let client = client(url, tls)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(3)))
        .set_number_of_retries(5);
    tokio::time::timeout(Duration::from_secs(20), ConnectionManager::new_with_config(client, config))
        .await
        .context("timed out connecting to Redis")?
        .map_err(|error| anyhow::anyhow!("connecting to Redis: {error}"))
}

/// Connects to a cluster; with `pushes`, over RESP3 with its push messages (sharded pub/sub,
/// and a `Disconnection` push whenever a node's connection dropped) sent there.
/// With `tls`, as [`client`] for every node (the nodes' certificates must name the addresses the
/// cluster announces, usually their IPs).
pub async fn connect_cluster(
    nodes: &[String],
    tls: Option<&TlsCertificates>,
    pushes: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
) -> anyhow::Result<ClusterConnection> {
    let mut builder = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(Duration::from_secs(3))
        .response_timeout(Duration::from_secs(3));
    if let Some(certificates) = tls {
        builder = builder.certs(certificates.clone());
    }
    if let Some(pushes) = pushes {
        builder = builder.use_protocol(redis::ProtocolVersion::RESP3).push_sender(pushes);
    }
    let client = builder.build().context("invalid redis.cluster_nodes")?;
    tokio::time::timeout(Duration::from_secs(20), client.get_async_connection())
        .await
        .context("timed out connecting to the Redis cluster")?
        .map_err(|error| anyhow::anyhow!("connecting to the Redis cluster: {error}"))
}
