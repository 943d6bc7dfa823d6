//! The Redis Cluster side of the bus: keeps this node's sharded subscriptions (`SSUBSCRIBE`)
//! equal to the topics it has local subscribers for, whatever happens to the cluster's nodes,
//! and delivers what arrives on them.
//!
//! The cluster connection re-subscribes by itself after a node reconnects, but that can silently
//! not happen (the re-subscription races the node's restart), and a lost subscription means
//! agents stop receiving a conversation live. So this module does not trust it: every
//! [`CHECK_EVERY`] it asks each primary how many shard channels this connection holds
//! (`CLIENT INFO`, `ssub=`; the command also repairs lost node connections) and, when the total
//! is short of what it confirmed, subscribes every topic again. Subscriptions that failed are
//! retried on the same tick. Whenever a topic is subscribed after a gap, followers resync from
//! Postgres (`Bus::missed_events`), since events were missed meanwhile.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Bus, Topic};

/// A request to the subscription task, applied in the order sent.
pub(super) enum Request {
    /// Subscribe to a topic's channel; `done` is answered once Redis confirmed, and dropped if
    /// it failed.
    Subscribe(Topic, oneshot::Sender<()>),
    /// Unsubscribe from a topic's channel.
    Unsubscribe(Topic),
}

/// How often the subscriptions are checked against the cluster and failed ones retried.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long one (un)subscription may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// (Un)subscriptions in flight at once while repairing.
const CONCURRENCY: usize = 64;

/// What this node holds on the cluster.
#[derive(Default)]
struct Subscriptions {
    /// Wanted and confirmed by Redis.
    confirmed: HashSet<Topic>,
    /// Wanted, but failed or possibly lost: subscribed again on the next check.
    pending: HashSet<Topic>,
    /// Not wanted, but their unsubscription failed: tried again on the next check (so that the
    /// count the check relies on is not inflated by leftovers).
    stale: HashSet<Topic>,
}

/// Applies subscription requests to the subscriber connection, in order, and checks and repairs
/// the subscriptions every [`CHECK_EVERY`] until `shutdown`.
pub(super) async fn subscription_loop(
    bus: Bus,
    mut conn: ClusterConnection,
    mut requests: mpsc::UnboundedReceiver<Request>,
    shutdown: CancellationToken,
) {
    let mut subscriptions = Subscriptions::default();
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            request = requests.recv() => match request {
                None => return,
                Some(Request::Subscribe(topic, done)) => {
                    subscriptions.stale.remove(&topic);
                    match attempt(&mut conn, &topic, true).await {
                        Ok(()) => {
                            subscriptions.pending.remove(&topic);
                            subscriptions.confirmed.insert(topic);
                            // The subscriber stopped waiting, so it may have read Postgres before
                            // this subscription existed: it must read again.
                            if done.send(()).is_err() {
                                bus.missed_events();
                            }
                        }
                        Err(error) => {
                            metrics::counter!("kefu_bus_subscribe_failed_total").increment(1);
                            tracing::warn!(%error, topic = topic.as_str(), "sharded subscribe failed; retrying, and followers recover from Postgres");
                            subscriptions.pending.insert(topic);
                        }
                    }
                }
                Some(Request::Unsubscribe(topic)) => {
                    subscriptions.confirmed.remove(&topic);
                    subscriptions.pending.remove(&topic);
                    if let Err(error) = attempt(&mut conn, &topic, false).await {
                        tracing::debug!(%error, topic = topic.as_str(), "sharded unsubscribe failed; retrying");
                        subscriptions.stale.insert(topic);
                    }
                }
            },
            _ = check.tick() => repair(&bus, &mut conn, &mut subscriptions).await,
        }
    }
}

/// One check: finds lost subscriptions, subscribes the pending ones again, retries failed
/// unsubscriptions.
async fn repair(bus: &Bus, conn: &mut ClusterConnection, subscriptions: &mut Subscriptions) {
    match held_on_cluster(conn).await {
        Ok(held) if held < subscriptions.confirmed.len() => {
            metrics::counter!("kefu_bus_subscriptions_lost_total").increment(1);
            tracing::info!(
                held,
                wanted = subscriptions.confirmed.len(),
                "sharded subscriptions were lost; subscribing again"
            );
            subscriptions.pending.extend(subscriptions.confirmed.drain());
        }
        Ok(_) => {}
        // A primary does not answer: its subscriptions are checked once it is back.
        Err(error) => tracing::debug!(%error, "a Redis Cluster primary does not answer"),
    }
    if !subscriptions.pending.is_empty() {
        let results = attempt_all(conn, subscriptions.pending.iter().cloned().collect(), true).await;
        let mut recovered = false;
        for (topic, result) in results {
            if result.is_ok() {
                subscriptions.pending.remove(&topic);
                subscriptions.confirmed.insert(topic);
                recovered = true;
            }
        }
        if recovered {
            bus.missed_events();
        }
    }
    if !subscriptions.stale.is_empty() {
        let results = attempt_all(conn, subscriptions.stale.iter().cloned().collect(), false).await;
        for (topic, result) in results {
            if result.is_ok() {
                subscriptions.stale.remove(&topic);
            }
        }
    }
}

/// The shard channels this connection holds over all primaries (`ssub` of `CLIENT INFO` on each
/// node's connection); an error when a primary does not answer.
async fn held_on_cluster(conn: &mut ClusterConnection) -> redis::RedisResult<usize> {
    let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let mut client_info = redis::cmd("CLIENT");
    client_info.arg("INFO");
    let answers = tokio::time::timeout(ATTEMPT_TIMEOUT, conn.route_command(client_info, all))
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "CLIENT INFO timed out")))??;
    let redis::Value::Map(per_node) = answers else {
        return Err((redis::ErrorKind::Parse, "CLIENT INFO: not one answer per node").into());
    };
    let mut held = 0;
    for (_, info) in per_node {
        let info: String = redis::from_redis_value(info)?;
        held += shard_channels(&info)
            .ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Parse, "CLIENT INFO without ssub")))?;
    }
    Ok(held)
}

/// The `ssub=` field of a `CLIENT INFO` line.
fn shard_channels(info: &str) -> Option<usize> {
    info.split_whitespace().find_map(|field| field.strip_prefix("ssub=")).and_then(|n| n.parse().ok())
}

/// Subscribes (or unsubscribes) one topic's channel, bounded by [`ATTEMPT_TIMEOUT`].
async fn attempt(conn: &mut ClusterConnection, topic: &Topic, subscribe: bool) -> redis::RedisResult<()> {
    let sent = async {
        if subscribe { conn.ssubscribe(topic.as_str()).await } else { conn.sunsubscribe(topic.as_str()).await }
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, sent)
        .await
        .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()))
}

/// [`attempt`] for many topics, [`CONCURRENCY`] at a time.
async fn attempt_all(
    conn: &ClusterConnection,
    topics: Vec<Topic>,
    subscribe: bool,
) -> Vec<(Topic, redis::RedisResult<()>)> {
    futures_util::stream::iter(topics)
        .map(|topic| {
            let mut conn = conn.clone();
            async move {
                let result = attempt(&mut conn, &topic, subscribe).await;
                (topic, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// Delivers the cluster's sharded messages. Events may have been missed, so followers resync,
/// when a node connection was lost and when a channel is confirmed again (the connection
/// re-subscribed by itself once the node was back, or its slots moved, or
/// [`subscription_loop`] repaired it): the first confirmation of a channel is its subscription,
/// any later one a re-subscription.
pub(super) async fn push_loop(bus: Bus, mut pushes: crate::redis_link::Pushes, shutdown: CancellationToken) {
    let mut subscribed: HashSet<String> = HashSet::new();
    loop {
        let push = tokio::select! {
            _ = shutdown.cancelled() => return,
            push = pushes.recv() => push,
        };
        let Some(push) = push else { return };
        let mut data = push.data.into_iter();
        let channel = data.next().and_then(|c| redis::from_redis_value::<String>(c).ok());
        match (push.kind, channel) {
            (redis::PushKind::SMessage | redis::PushKind::Message, Some(channel)) => {
                if let Some(Ok(payload)) = data.next().map(redis::from_redis_value::<String>) {
                    bus.deliver_remote(channel, &payload);
                }
            }
            (redis::PushKind::SSubscribe, Some(channel)) if !subscribed.insert(channel.clone()) => {
                tracing::info!("a sharded channel was subscribed again; resyncing conversations from Postgres");
                bus.missed_events();
            }
            (redis::PushKind::SUnsubscribe, Some(channel)) => {
                subscribed.remove(&channel);
            }
            (redis::PushKind::Disconnection, _) => {
                tracing::info!("a Redis Cluster node connection was lost; resyncing conversations from Postgres");
                bus.missed_events();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shard_channels;

    #[test]
    fn reads_the_shard_channel_count_of_client_info() {
        let info = "id=7 addr=127.0.0.1:55550 fd=8 name= db=0 sub=0 psub=0 ssub=12 multi=-1 resp=3";
        assert_eq!(shard_channels(info), Some(12));
        assert_eq!(shard_channels("id=7 sub=0 psub=0"), None);
    }
}
