//! Placement: tenants in several tenant databases on two Postgres clusters, served by one node;
//! the placement policy; two-phase commit of control and tenant writes and its resolver;
//! `kefu migrate` across databases; isolation across databases.

use std::str::FromStr;
use std::time::Duration;

use kefu_api::db::{self, DatabaseId};
use kefu_api::testing::{Session, TestApp, unique};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{ConnectOptions, Connection};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

/// The URL of a registered tenant database.
async fn url_of(app: &TestApp, database: &str) -> String {
    sqlx::query_scalar("select url from control.tenant_databases where id = $1")
        .bind(database)
        .fetch_one(app.db())
        .await
        .expect("registered")
}

/// Whether `schema` exists in the database at `url`.
async fn schema_exists(url: &str, schema: &str) -> bool {
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(url).expect("url").connect().await.expect("connect");
    let found: bool = sqlx::query_scalar("select exists(select 1 from pg_namespace where nspname = $1)")
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .expect("query");
    let _ = conn.close().await;
    found
}

/// The database a tenant is placed in, as its control row says.
async fn placement_of(app: &TestApp, session: &Session) -> String {
    app.tenant_schema(&session.tenant_id).await.database().to_string()
}

/// A visitor writes, the agent joins, claims and answers: the whole path of one tenant.
async fn chat(app: &TestApp, owner: &Session, text: &str) -> String {
    let mut agent = app.agent(owner).await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": text })).await;
    let ack = visitor.next_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    let replayed = agent.next_of("message").await;
    assert_eq!(replayed["body"], text);
    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    visitor.next_of("conversation_updated").await;
    agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a-1", "body": "好的" })).await;
    let reply = visitor.next_of("message").await;
    assert_eq!((reply["seq"].as_i64(), reply["body"].as_str()), (Some(2), Some("好的")));
    conversation
}

#[tokio::test]
async fn one_node_serves_tenants_on_two_clusters_at_once() {
    let app = TestApp::spawn_placed().await;
    let on_main = app.verified_owner().await;
    app.place_new_tenants_in("pg2-b").await;
    let on_b = app.verified_owner().await;
    app.place_new_tenants_in("pg2-c").await;
    let on_c = app.verified_owner().await;
    assert_eq!(placement_of(&app, &on_main).await, "main");
    assert_eq!(placement_of(&app, &on_b).await, "pg2-b");
    assert_eq!(placement_of(&app, &on_c).await, "pg2-c");

    // Each schema lives in its own database only.
    let (url_b, url_c) = (url_of(&app, "pg2-b").await, url_of(&app, "pg2-c").await);
    let control_url = app.state.config.database_url().to_owned();
    for (session, home) in [(&on_main, &control_url), (&on_b, &url_b), (&on_c, &url_c)] {
        let schema = app.tenant_schema(&session.tenant_id).await;
        for url in [&control_url, &url_b, &url_c] {
            assert_eq!(schema_exists(url, schema.name()).await, url == home, "{} in {url}", schema.name());
        }
    }

    // Signup, verification, an invitation accepted (control and tenant rows across databases:
    // two-phase commit), and chats on all three at once through one node.
    for owner in [&on_main, &on_b, &on_c] {
        let agent = app.invite_and_accept(owner, "agent").await;
        let (status, members) = app.get("/api/v1/members", Some(&owner.access)).await;
        assert_eq!(status, StatusCode::OK, "{members}");
        assert_eq!(members.as_array().map(Vec::len), Some(2), "{members}");
        let (status, me) = app.get("/api/v1/me", Some(&agent.access)).await;
        assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("agent")), "{me}");
    }
    let chats = futures_util::future::join_all([
        chat(&app, &on_main, "主库的访客"),
        chat(&app, &on_b, "b 库的访客"),
        chat(&app, &on_c, "c 库的访客"),
    ])
    .await;
    for (owner, conversation) in [(&on_main, &chats[0]), (&on_b, &chats[1]), (&on_c, &chats[2])] {
        let (status, transcript) =
            app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
        assert_eq!(status, StatusCode::OK, "{transcript}");
        assert_eq!(transcript["messages"].as_array().map(Vec::len), Some(2), "{transcript}");
    }

    // A token of one tenant never reaches another's data, in any database.
    for (reader, (other, conversation)) in
        [(&on_main, (&on_b, &chats[1])), (&on_b, (&on_c, &chats[2])), (&on_c, (&on_main, &chats[0]))]
    {
        let (status, body) =
            app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&reader.access)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{} read {}'s conversation: {body}", reader.slug, other.slug);
    }

    // An owner deletes a tenant outside the control database: schema and control row both go.
    let schema_b = app.tenant_schema(&on_b.tenant_id).await;
    let (status, body) = app
        .call(
            "DELETE",
            "/api/v1/tenant",
            Some(&on_b.access),
            Some(json!({ "confirm_slug": on_b.slug, "password": on_b.password })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!schema_exists(&url_b, schema_b.name()).await);
    let left: i64 = sqlx::query_scalar("select count(*) from control.tenants where slug = $1")
        .bind(&on_b.slug)
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(left, 0);
    let decisions: i64 =
        sqlx::query_scalar("select count(*) from control.two_phase_commits").fetch_one(app.db()).await.expect("count");
    assert_eq!(decisions, 0, "settled decisions are forgotten");
}

#[tokio::test]
async fn the_policy_fills_the_roomiest_database_and_refuses_signups_when_all_are_full() {
    let app = TestApp::spawn_placed().await;
    // main takes nothing; b has room for one more tenant, c for two.
    sqlx::query(
        "update control.tenant_databases set accepting = (id <> 'main'),
         capacity = case id when 'pg2-b' then 1 when 'pg2-c' then 2 else capacity end",
    )
    .execute(app.db())
    .await
    .expect("capacities");
    let mut placed = Vec::new();
    for _ in 0..3 {
        let owner = app.signup().await;
        placed.push(placement_of(&app, &owner).await);
    }
    placed.sort();
    assert_eq!(placed, ["pg2-b", "pg2-c", "pg2-c"]);
    let (status, body) = app
        .post(
            "/api/v1/auth/signup",
            None,
            json!({ "company_name": unique("Full "), "email": format!("{}@example.com", unique("full-")), "password": "correct horse battery staple" }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable")),
        "{body}"
    );
    // Nothing of the refused signup is left behind.
    let users: i64 = sqlx::query_scalar("select count(*) from control.users").fetch_one(app.db()).await.expect("count");
    assert_eq!(users, 3);
}

#[tokio::test]
async fn in_doubt_transactions_are_settled_by_the_decision_in_the_control_database() {
    let app = TestApp::spawn_placed().await;
    app.place_new_tenants_in("pg2-b").await;
    let owner = app.signup().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let url_b = url_of(&app, "pg2-b").await;
    let database: DatabaseId = "pg2-b".parse().expect("id");

    // Two transactions prepared on b as a crashed node would leave them: one whose control
    // transaction committed its decision, one that never got that far.
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(&url_b).expect("url").connect().await.expect("connect");
    let mut gids = Vec::new();
    for name in ["committed-team", "aborted-team"] {
        let gid = format!("kefu:{}", uuid::Uuid::now_v7().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "begin;
             insert into {schema}.teams (id, name) values ('{id}', '{name}');
             prepare transaction '{gid}';",
            schema = schema.name(),
            id = uuid::Uuid::now_v7(),
        )))
        .execute(&mut conn)
        .await
        .expect("prepare");
        gids.push(gid);
    }
    sqlx::query("insert into control.two_phase_commits (gid, database_id, decision) values ($1, 'pg2-b', 'commit')")
        .bind(&gids[0])
        .execute(app.db())
        .await
        .expect("decision");

    // Too young to touch: it may be committing right now.
    let young = db::two_phase::resolve(app.databases(), &database, Duration::from_secs(3600)).await.expect("resolve");
    assert_eq!(young, db::two_phase::Resolved::default());
    let settled = db::two_phase::resolve(app.databases(), &database, Duration::ZERO).await.expect("resolve");
    assert!(settled.committed >= 1 && settled.rolled_back >= 1, "{settled:?}");
    let teams: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select name from {}.teams", schema.name())))
            .fetch_all(&mut conn)
            .await
            .expect("teams");
    assert!(teams.contains(&"committed-team".to_owned()), "{teams:?}");
    assert!(!teams.contains(&"aborted-team".to_owned()), "{teams:?}");
    let left: i64 = sqlx::query_scalar("select count(*) from pg_prepared_xacts where gid = any($1)")
        .bind(&gids)
        .fetch_one(&mut conn)
        .await
        .expect("prepared");
    assert_eq!(left, 0);
    let _ = conn.close().await;
}

#[tokio::test]
async fn migrate_brings_every_tenant_database_up_to_date() {
    use kefu_api::tenancy::migrate::{Progress, create_unmigrated_tenants, migrate_all};
    struct Quiet;
    impl Progress for Quiet {
        fn start(&self, _: u64) {}
        fn advance(&self) {}
    }
    let app = TestApp::spawn_placed().await;
    let prefix = unique("mig-");
    for (i, database) in ["main", "pg2-b", "pg2-c"].into_iter().enumerate() {
        create_unmigrated_tenants(app.databases(), &database.parse().expect("id"), 4, &format!("{prefix}{i}"))
            .await
            .expect("create");
    }
    let summary = migrate_all(app.databases(), 2, &Quiet).await.expect("migrate");
    assert!(summary.failed.is_empty() && summary.failed_databases.is_empty(), "{summary:?}");
    assert_eq!((summary.pending, summary.migrated), (12, 12));
    let latest = kefu_api::tenancy::latest_tenant_version();
    for database in ["pg2-b", "pg2-c"] {
        let url = url_of(&app, database).await;
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(&url).expect("url").connect().await.expect("connect");
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("select id from control.tenants where database_id = $1 and slug like $2")
                .bind(database)
                .bind(format!("{prefix}%"))
                .fetch_all(app.db())
                .await
                .expect("ids");
        let versions: Vec<i64> =
            sqlx::query_scalar("select version from kefu.tenant_schemas where tenant_id = any($1)")
                .bind(&ids)
                .fetch_all(&mut conn)
                .await
                .expect("versions");
        assert_eq!(versions, vec![latest; 4], "{database}");
        let _ = conn.close().await;
    }
    let again = migrate_all(app.databases(), 2, &Quiet).await.expect("rerun");
    assert_eq!(again.pending, 0, "a rerun finds nothing to do");
}

/// One page of the compliance feed after `cursor`: its items and `next`, or `None` while the
/// tenant is switching databases (503).
async fn feed_page(app: &TestApp, owner: &Session, cursor: &str) -> Option<(Vec<serde_json::Value>, String, bool)> {
    let after: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
    let (status, page) =
        app.get(&format!("/api/v1/compliance/feed?limit=200&after={after}"), Some(&owner.access)).await;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    Some((items, page["next"].as_str().unwrap_or_default().to_owned(), page["more"] == true))
}

/// What a visitor sending through a move saw acknowledged: client id → (conversation, seq).
type Acked = std::collections::BTreeMap<String, (String, i64)>;

/// A visitor that sends messages one after another until `stop`, reconnecting and resending
/// the same client id whenever a send is refused as retryable or the connection ends, as the
/// widget does. Returns what was acknowledged.
async fn steady_visitor(
    app: &TestApp,
    tenant_id: &str,
    name: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (Acked, usize) {
    use kefu_api::testing::WsEnd;
    let visitor = new_visitor();
    let mut acked = Acked::new();
    let mut reconnects = 0;
    let mut client = app.visitor(tenant_id, visitor, None).await.0;
    let mut i = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let client_id = format!("{name}-{i}");
        client.send(json!({ "type": "send", "client_id": client_id, "body": format!("message {i}") })).await;
        let outcome = loop {
            match client.next().await {
                Ok(frame) if frame["type"] == "ack" && frame["client_id"] == client_id.as_str() => break Some(frame),
                Ok(frame) if frame["type"] == "error" => {
                    assert_eq!(frame["retryable"], true, "a send refused for good during a move: {frame}");
                    break None;
                }
                Ok(_) => continue,
                Err(WsEnd::Closed(code)) => {
                    assert_eq!(code, 1001, "only going_away during a move");
                    break None;
                }
                Err(WsEnd::Dropped) => break None,
            }
        };
        match outcome {
            Some(ack) => {
                let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
                acked.insert(client_id, (conversation, ack["seq"].as_i64().expect("seq")));
                i += 1;
                // Below the per-connection frame rate limit (20/s).
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            None => {
                reconnects += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                client = app.visitor(tenant_id, visitor, None).await.0;
            }
        }
    }
    (acked, reconnects)
}

/// Every acknowledged message is stored exactly once where the tenant lives now, with the
/// acknowledged sequence number, and each conversation's sequence numbers are gap-free.
async fn assert_nothing_lost(app: &TestApp, owner: &Session, acked: &[Acked]) {
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let url = if schema.database().is_main() {
        app.state.config.database_url().to_owned()
    } else {
        url_of(app, schema.database().as_str()).await
    };
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(&url).expect("url").connect().await.expect("connect");
    let stored: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select conversation_id::text, client_id, seq from {}.messages order by conversation_id, seq",
        schema.name()
    )))
    .fetch_all(&mut conn)
    .await
    .expect("messages");
    let _ = conn.close().await;
    let mut by_client = std::collections::HashMap::new();
    for (conversation, client_id, seq) in &stored {
        assert!(
            by_client.insert(client_id.clone(), (conversation.clone(), *seq)).is_none(),
            "{client_id} stored twice"
        );
    }
    let mut total = 0;
    for visitor in acked {
        for (client_id, (conversation, seq)) in visitor {
            let found = by_client.get(client_id).unwrap_or_else(|| panic!("acknowledged {client_id} is lost"));
            assert_eq!(found.1, *seq, "{client_id}");
            assert!(conversation.ends_with(&found.0.replace('-', "")), "{client_id}: {conversation} vs {}", found.0);
            total += 1;
        }
    }
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for (conversation, _, seq) in &stored {
        let previous = last.insert(conversation, *seq).unwrap_or(0);
        assert_eq!(*seq, previous + 1, "gap in {conversation}");
    }
    assert!(total > 0);
}

#[tokio::test]
async fn a_tenant_moves_between_databases_under_traffic_with_nothing_lost() {
    use kefu_api::tenancy::moves::{MoveProgress, move_tenant};
    struct Quiet;
    impl MoveProgress for Quiet {
        fn step(&self, what: &str) {
            tracing::info!("move: {what}");
        }
    }
    let app = TestApp::spawn_placed().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("id");
    let main_schema = app.tenant_schema(&owner.tenant_id).await;
    assert!(main_schema.database().is_main());
    // A compliance archive reads the feed all along; its cursor crosses both moves.
    let mut feed_items: Vec<serde_json::Value> = Vec::new();
    let mut feed_cursor = String::new();
    let mut all_acked: Vec<Acked> = Vec::new();

    // From the control database to another cluster (two-phase not needed: one transaction),
    // then between two databases of that cluster (the switch by two-phase commit), each under
    // the traffic of three visitors.
    for target in ["pg2-b", "pg2-c"] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders: Vec<_> = (0..3)
            .map(|k| {
                let (app, tenant_id, stop) = (&app, owner.tenant_id.clone(), stop.clone());
                async move { steady_visitor(app, &tenant_id, &format!("{target}-v{k}"), stop).await }
            })
            .collect();
        let mover = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let report =
                move_tenant(app.databases(), tenant, &target.parse().expect("id"), &Quiet).await.expect("move");
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            report
        };
        // An agent console reading the inbox all along: 200, or 503 (retry) at the switch; and
        // the archive reading the feed.
        let reader = async {
            let mut statuses = std::collections::BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _) = app.get("/api/v1/conversations", Some(&agent.access)).await;
                *statuses.entry(status.as_u16()).or_insert(0) += 1;
                if let Some((items, next, _)) = feed_page(&app, &owner, &feed_cursor).await {
                    feed_items.extend(items);
                    feed_cursor = next;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        };
        let (report, sent, statuses) = tokio::join!(mover, futures_util::future::join_all(senders), reader);
        assert!(statuses.keys().all(|s| *s == 200 || *s == 503), "inbox reads during the move: {statuses:?}");
        assert_eq!(report.target.as_str(), target);
        assert!(report.copied_rows > 0, "{report:?}");
        eprintln!(
            "moved to {target}: {report:?}; acked and reconnects per visitor: {:?}; inbox reads: {statuses:?}",
            sent.iter().map(|(a, r)| (a.len(), r)).collect::<Vec<_>>()
        );
        let acked: Vec<Acked> = sent.iter().map(|(acked, _)| acked.clone()).collect();
        assert!(
            acked.iter().all(|a| a.len() > 2),
            "every visitor kept sending: {:?}",
            sent.iter().map(|(a, r)| (a.len(), r)).collect::<Vec<_>>()
        );
        assert_eq!(placement_of(&app, &owner).await, target);
        assert_nothing_lost(&app, &owner, &acked).await;
        all_acked.extend(acked);
    }
    // The feed, read from before the first move to now, holds every acknowledged message once.
    let expected: std::collections::BTreeSet<(String, i64)> =
        all_acked.iter().flat_map(|a| a.values().cloned()).collect();
    let visitor_messages = |items: &[serde_json::Value]| -> Vec<(String, i64)> {
        items
            .iter()
            .filter(|i| i["type"] == "message" && i["message"]["sender"]["kind"] == "visitor")
            .map(|i| {
                (
                    i["message"]["conversation_id"].as_str().unwrap_or("").to_owned(),
                    i["message"]["seq"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    for _ in 0..150 {
        if let Some((items, next, _)) = feed_page(&app, &owner, &feed_cursor).await {
            feed_items.extend(items);
            feed_cursor = next;
        }
        let read: std::collections::BTreeSet<(String, i64)> = visitor_messages(&feed_items).into_iter().collect();
        if expected.is_subset(&read) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read = visitor_messages(&feed_items);
    let unique: std::collections::BTreeSet<(String, i64)> = read.iter().cloned().collect();
    assert_eq!(unique.len(), read.len(), "no message twice in the feed across the moves");
    let missing: Vec<_> = expected.difference(&unique).collect();
    assert!(missing.is_empty(), "every acknowledged message in the feed across the moves; missing {missing:?}");
    // Nothing is left behind in the databases the tenant left, and it works where it is.
    let control_url = app.state.config.database_url().to_owned();
    assert!(!schema_exists(&control_url, main_schema.name()).await);
    assert!(!schema_exists(&url_of(&app, "pg2-b").await, main_schema.name()).await);
    let moves: i64 =
        sqlx::query_scalar("select count(*) from control.tenant_moves").fetch_one(app.db()).await.expect("count");
    assert_eq!(moves, 0);
    let conversation = chat(&app, &agent, "搬家以后").await;
    let (status, body) = app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_interrupted_move_is_abandoned_and_the_tenant_stays_untouched() {
    let app = TestApp::spawn_placed().await;
    let owner = app.verified_owner().await;
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("id");
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let before = chat(&app, &owner, "搬家之前").await;

    // What a mover that crashed after the copy leaves: the record, the capture on the source
    // (still logging), and a copy in the target.
    sqlx::query("insert into control.tenant_moves (tenant_id, source_id, target_id, state) values ($1, 'main', 'pg2-b', 'copying')")
        .bind(tenant)
        .execute(app.db())
        .await
        .expect("record");
    let mut conn = app.db().acquire().await.expect("conn");
    let tables = db::moves::tables(&mut conn, &schema).await.expect("tables");
    db::moves::start_capture(&mut conn, &schema, &tables).await.expect("capture");
    drop(conn);
    let url_b = url_of(&app, "pg2-b").await;
    let mut copy = sqlx::postgres::PgConnectOptions::from_str(&url_b).expect("url").connect().await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create schema {}", schema.name())))
        .execute(&mut copy)
        .await
        .expect("copy");
    let _ = copy.close().await;
    chat(&app, &owner, "中断期间").await;
    let logged: i64 = sqlx::query_scalar("select count(*) from kefu.move_log where tenant_id = $1")
        .bind(tenant)
        .fetch_one(app.db())
        .await
        .expect("log");
    assert!(logged > 0, "the capture logs while the move is interrupted");

    assert!(kefu_api::tenancy::moves::abandon_move(app.databases(), tenant).await.expect("abandon"));
    assert!(
        !kefu_api::tenancy::moves::abandon_move(app.databases(), tenant).await.expect("again"),
        "nothing left to abandon"
    );
    assert!(!schema_exists(&url_b, schema.name()).await, "the copy is dropped");
    let (triggers, logged): (i64, i64) = sqlx::query_as(
        "select (select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid
                 join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = $1 and t.tgname = 'kefu_move_capture'),
                (select count(*) from kefu.move_log where tenant_id = $2)",
    )
    .bind(schema.name())
    .bind(tenant)
    .fetch_one(app.db())
    .await
    .expect("leftovers");
    assert_eq!((triggers, logged), (0, 0));
    assert_eq!(placement_of(&app, &owner).await, "main");
    let (status, body) = app.get(&format!("/api/v1/conversations/{before}/messages"), Some(&owner.access)).await;
    assert_eq!((status, body["messages"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{body}");
}
