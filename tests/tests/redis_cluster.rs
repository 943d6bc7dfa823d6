//! Several `kefu` processes on a Redis Cluster of three nodes (sharded pub/sub, presence keys
//! tagged by tenant): a visitor on one api node talks to an agent on another; an api node is
//! SIGKILLed mid-stream and the visitor resumes on another; the Redis node serving the
//! conversation's channel is killed and restarted mid-conversation. Every acknowledged message
//! must end up stored and delivered exactly once, in order.

use std::process::Command;

use kefu_protocol::VisitorId;
use kefu_tests::{
    FreshDatabase, OwnRedisCluster, Server, inbox_agent_on, messages_until, pipeline_then_kill, resend_unacknowledged,
    send_numbered, signup_owner, transcript, visitor_on,
};
use serde_json::{Value, json};

/// The index of the cluster node that serves `channel`'s slot.
fn owner_of(cluster: &OwnRedisCluster, channel: &str) -> usize {
    let port = cluster.ports[0].to_string();
    let slot: u16 = String::from_utf8_lossy(
        &Command::new("redis-cli").args(["-p", &port, "cluster", "keyslot", channel]).output().expect("keyslot").stdout,
    )
    .trim()
    .parse()
    .expect("slot");
    let nodes = Command::new("redis-cli").args(["-p", &port, "cluster", "nodes"]).output().expect("nodes").stdout;
    for line in String::from_utf8_lossy(&nodes).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let serves = fields.iter().skip(8).any(|range| {
            let mut bounds = range.split('-').filter_map(|b| b.parse::<u16>().ok());
            match (bounds.next(), bounds.next()) {
                (Some(low), Some(high)) => (low..=high).contains(&slot),
                (Some(only), None) => only == slot,
                _ => false,
            }
        });
        if serves {
            let address = fields.get(1).and_then(|a| a.split('@').next()).unwrap_or_default();
            let port: u16 = address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
            return cluster.ports.iter().position(|p| *p == port).expect("a node of ours");
        }
    }
    panic!("no node serves slot {slot}")
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_across_an_api_node_kill_and_a_redis_cluster_node_restart() {
    let db = FreshDatabase::create().await;
    let mut cluster = OwnRedisCluster::start();
    let nodes = cluster.nodes();
    let env = [("KEFU_REDIS__CLUSTER_NODES", nodes.as_str())];
    let mut node_a = Server::start(&db.url, &env).await;
    let node_b = Server::start(&db.url, &env).await;
    let (agent_token, tenant) = signup_owner(&node_a.base, "Cluster Shop", "owner@cluster.example").await;

    let mut agent = inbox_agent_on(&node_b.base, &agent_token).await;
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::new_v4());
    let mut visitor = visitor_on(&node_a.base, &tenant, visitor_id, 0).await;

    visitor.send(json!({ "type": "send", "client_id": "c1", "body": "message 1" })).await;
    let ack = visitor.next_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    let update = agent.next_of("conversation_updated").await;
    assert_eq!(update["conversation_id"], conversation.as_str(), "inbox events cross nodes over sharded pub/sub");
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    let mut agent_seen = messages_until(&mut agent, 1).await;
    // Presence on the cluster (keys tagged by tenant, scripts and pipelines in its slot): node A
    // sees the agent connected to B, and node B the visitor connected to A.
    let get = |base: String, path: &'static str| {
        let token = agent_token.clone();
        async move {
            let response =
                reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.expect("presence");
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.expect("json")
        }
    };
    let agents = get(node_a.base.clone(), "/api/v1/presence/agents").await;
    assert_eq!(agents.as_array().map(Vec::len), Some(1), "{agents}");
    let visitors = get(node_b.base.clone(), "/api/v1/presence/visitors").await;
    assert_eq!(visitors["total"], 1, "{visitors}");

    send_numbered(&mut visitor, 2..=10).await;
    agent_seen.extend(messages_until(&mut agent, 10).await);

    // Pipeline ten more and kill api node A mid-stream.
    let (acked, last_seen) = pipeline_then_kill(&mut visitor, &mut node_a, 11..=20, 10).await;
    let mut visitor = visitor_on(&node_b.base, &tenant, visitor_id, last_seen).await;
    resend_unacknowledged(&mut visitor, 11..=20, &acked).await;
    agent_seen.extend(messages_until(&mut agent, 20).await);

    // The Redis node serving the conversation's channel dies mid-conversation; a third api node
    // serves the visitor, the agent stays on B.
    let channel =
        format!("kefu:v1:{}:conv:{}", tenant.trim_start_matches("tnt_"), conversation.trim_start_matches("conv_"));
    let owner = owner_of(&cluster, &channel);
    let node_c = Server::start(&db.url, &env).await;
    let mut visitor = visitor_on(&node_c.base, &tenant, visitor_id, 20).await;
    cluster.kill(owner);
    for n in 21..=25 {
        visitor.send(json!({ "type": "send", "client_id": format!("c{n}"), "body": format!("message {n}") })).await;
        assert_eq!(visitor.next_of("ack").await["client_id"], format!("c{n}"), "sends still commit without that node");
    }
    cluster.restart(owner);
    cluster.wait_ok();
    // B's subscription comes back with the node; the gap is filled from Postgres.
    agent_seen.extend(messages_until(&mut agent, 25).await);
    visitor.send(json!({ "type": "send", "client_id": "c26", "body": "message 26" })).await;
    visitor.next_of("ack").await;
    agent_seen.extend(messages_until(&mut agent, 26).await);

    assert_eq!(agent_seen, (1..=26).collect::<Vec<_>>(), "the agent saw every message once, in order");
    let expected: Vec<(i64, String)> = (1..=26).map(|n| (n, format!("c{n}"))).collect();
    assert_eq!(
        transcript(&db, &tenant, &conversation).await,
        expected,
        "every message stored exactly once, in order, without gaps"
    );
}
