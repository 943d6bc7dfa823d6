//! Test support, compiled for tests and with the `testing` feature: a real server on an ephemeral
//! port against a real Postgres database, plus typed helpers for common flows.
//!
//! The database is `kefu_it_<fingerprint of the migrations>` next to `DATABASE_URL`'s database,
//! created and migrated on first use; tests isolate themselves by creating their own tenants
//! (random slugs and emails), never by truncating.

use std::net::SocketAddr;
use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::state::AppState;

/// The base `DATABASE_URL` tests derive their database from.
pub fn base_database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: run tests through `make test`, or `eval \"$(infra/local/services.sh env)\"` first"
        )
    })
}

/// The URL of the shared integration-test database, created and migrated if needed.
pub async fn test_database_url() -> String {
    static READY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    READY.get_or_init(prepare_test_database).await.clone()
}

async fn prepare_test_database() -> String {
    let name = format!("kefu_it_{}", crate::tenancy::migrations_fingerprint());
    let url = ensure_database(&base_database_url(), &name).await;
    let pool = crate::db::connect(&url, 2, std::time::Duration::from_secs(30)).expect("pool");
    let mut conn = pool.acquire().await.expect("connect to test database");
    crate::tenancy::migrate_control(&mut conn).await.expect("migrate control plane");
    url
}

/// The base URL of the second local Postgres cluster (`infra/local/services.sh second-pg`, which
/// `make test` runs), for tests of tenants placed on several clusters.
pub fn second_cluster_url() -> String {
    std::env::var("KEFU_TEST_PG2_URL").unwrap_or_else(|_| {
        panic!("KEFU_TEST_PG2_URL is not set: run tests through `make test`, or `eval \"$(infra/local/services.sh second-pg)\"` first")
    })
}

/// Creates database `name` (UTF-8, C collation) on the cluster of `base_url` if it is missing,
/// and returns its URL.
pub async fn ensure_database(base_url: &str, name: &str) -> String {
    let options = PgConnectOptions::from_str(base_url).expect("URL parses");
    let mut admin = options.connect().await.expect("connect to the cluster");
    let exists: bool = sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("query pg_database");
    if !exists {
        let create = format!(
            "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        );
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut admin).await {
            // Another test process may have created it at the same moment.
            let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
            assert!(matches!(code.as_deref(), Some("42P04" | "23505")), "create database {name}: {error}");
        }
    }
    let _ = admin.close().await;
    options.database(name).to_url_lossy().to_string()
}

/// The tenant databases [`TestApp::spawn_placed`] registers besides `main`: two databases on the
/// second cluster, shared by every such test (tenant schemas are unique by id).
pub const PLACED_DATABASES: [&str; 2] = ["pg2-b", "pg2-c"];

/// A control database of its own for one test (`kefu_itp_<time>_<random>`, migrated), so that the
/// test may steer the placement policy without touching other tests. Such databases older than
/// an hour are dropped on the way (those still in use refuse to go).
pub async fn private_control_database() -> String {
    let base = base_database_url();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let options = PgConnectOptions::from_str(&base).expect("DATABASE_URL parses");
    let mut admin = options.connect().await.expect("connect to DATABASE_URL");
    let old: Vec<String> = sqlx::query_scalar("select datname from pg_database where datname like 'kefu\\_itp\\_%'")
        .fetch_all(&mut admin)
        .await
        .expect("list private databases");
    for name in old {
        let created = name.split('_').nth(2).and_then(|t| t.parse::<u64>().ok()).unwrap_or(u64::MAX);
        if created.saturating_add(3600) < now {
            let _ =
                sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {name}"))).execute(&mut admin).await;
        }
    }
    let _ = admin.close().await;
    let name = format!("kefu_itp_{now}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let url = ensure_database(&base, &name).await;
    let pool = crate::db::connect(&url, 2, std::time::Duration::from_secs(30)).expect("pool");
    let mut conn = pool.acquire().await.expect("connect to the private database");
    crate::tenancy::migrate_control(&mut conn).await.expect("migrate control plane");
    url
}

/// A running api server for one test.
pub struct TestApp {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state (pool, config, keys).
    pub state: AppState,
    /// An HTTP client.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A signed-in member as seen by a test.
#[derive(Debug, Clone)]
pub struct Session {
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// Email used.
    pub email: String,
    /// Password used.
    pub password: String,
    /// `usr_…`.
    pub user_id: String,
    /// `tnt_…`.
    pub tenant_id: String,
    /// Tenant slug.
    pub slug: String,
}

impl Session {
    fn from_response(body: &Value, email: &str, password: &str) -> Self {
        Self {
            access: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            user_id: body["user"]["id"].as_str().expect("user.id").to_owned(),
            tenant_id: body["tenant"]["id"].as_str().expect("tenant.id").to_owned(),
            slug: body["tenant"]["slug"].as_str().expect("tenant.slug").to_owned(),
        }
    }
}

/// The header the edge adds to the visitor sockets it opens ([`crate::config::TEST_EDGE_SECRET`]):
/// tests that connect visitors straight to the api stand in for the edge.
pub const EDGE_PROOF: (&str, &str) = (kefu_protocol::ws::EDGE_PROOF_HEADER, crate::config::TEST_EDGE_SECRET);

/// A random lowercase suffix for unique names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple().to_string().get(20..).unwrap_or_default())
}

impl TestApp {
    /// Starts a server with the test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after letting the test adjust the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(&test_database_url().await, adjust).await
    }

    /// Starts a server selling plans through a fake Stripe, on a control database of its own
    /// where Starter and Pro are billed with the prices `price_starter` and `price_pro` (the
    /// shared database's plans stay as other tests expect them), with Redis.
    pub async fn spawn_with_stripe(fake: &crate::fake_stripe::FakeStripe) -> Self {
        let app = Self::stripe_node(fake, &private_control_database().await).await;
        sqlx::query("update control.plans set stripe_price_id = 'price_' || id where id in ('starter', 'pro')")
            .execute(app.db())
            .await
            .expect("prices");
        app
    }

    /// Another node of a [`TestApp::spawn_with_stripe`] server: same databases, Redis and Stripe.
    pub async fn another_stripe_node(&self, fake: &crate::fake_stripe::FakeStripe) -> Self {
        Self::stripe_node(fake, self.state.config.database_url()).await
    }

    async fn stripe_node(fake: &crate::fake_stripe::FakeStripe, url: &str) -> Self {
        let base = fake.base.clone();
        let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
        Self::spawn_on(url, |c| {
            c.redis.url = Some(redis.into());
            c.billing.stripe_secret_key = Some("sk_test_kefu".into());
            c.billing.stripe_webhook_secret = Some(crate::fake_stripe::WEBHOOK_SECRET.into());
            c.billing.stripe_api_base = base;
            c.billing.trial_round_secs = 1;
        })
        .await
    }

    /// Starts a server on the control database at `database_url`.
    pub async fn spawn_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        init_test_tracing();
        let mut config = Config::for_tests(database_url);
        let default_public_url = config.public_url.clone();
        adjust(&mut config);
        config.validate().expect("test config valid");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // The node's own address, unless the test chose one (an https address behind a proxy).
        if config.public_url == default_public_url {
            config.public_url = format!("http://{addr}");
        }
        let state = crate::build_state(config).await.expect("state");
        let (tx, rx) = oneshot::channel::<()>();
        let server_state = state.clone();
        tokio::spawn(async move {
            let _ = crate::run(server_state, listener, async move {
                let _ = rx.await;
            })
            .await;
        });
        Self { addr, state, http: reqwest::Client::new(), shutdown: Some(tx) }
    }

    /// Two nodes sharing one Postgres and the Redis of `REDIS_URL` (multi-node tests).
    pub async fn spawn_pair() -> (Self, Self) {
        let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
        let a = Self::spawn_with(|c| c.redis.url = Some(redis.clone().into())).await;
        let url = a.state.config.database_url().to_owned();
        let b = Self::spawn_on(&url, |c| c.redis.url = Some(redis.into())).await;
        (a, b)
    }

    /// Starts a server on a control database of its own ([`private_control_database`]) with the
    /// tenant databases [`PLACED_DATABASES`] on the second cluster registered besides `main`.
    /// New tenants go to `main` until the test calls [`TestApp::place_new_tenants_in`].
    pub async fn spawn_placed() -> Self {
        let control = private_control_database().await;
        let app = Self::spawn_on(&control, |_| {}).await;
        let fingerprint = crate::tenancy::migrations_fingerprint();
        for id in PLACED_DATABASES {
            let name = format!("kefu_it_{fingerprint}_{}", id.replace('-', "_"));
            let url = ensure_database(&second_cluster_url(), &name).await;
            let id: crate::db::DatabaseId = id.parse().expect("database id");
            crate::tenancy::database::register(app.databases(), &id, &url, &app.state.config.region, 1_000_000)
                .await
                .expect("register the tenant database");
        }
        app.place_new_tenants_in("main").await;
        app
    }

    /// Makes the placement policy choose `database` for new tenants (every other database stops
    /// accepting them).
    pub async fn place_new_tenants_in(&self, database: &str) {
        sqlx::query("update control.tenant_databases set accepting = (id = $1)")
            .bind(database)
            .execute(self.db())
            .await
            .expect("steer placement");
    }

    /// Every database of the test: the control database and the tenant databases.
    pub fn databases(&self) -> &crate::db::Databases {
        &self.state.db
    }

    /// The pool of the test (control) database.
    pub fn db(&self) -> &PgPool {
        self.state.db.control()
    }

    /// The schema of an existing tenant, as its control row names it (read the way the
    /// extractors read it), for tests that open a `TenantTx` or migrate a schema themselves.
    pub async fn tenant_schema(&self, tenant: &str) -> crate::db::TenantSchema {
        let id: kefu_protocol::TenantId = tenant.parse().expect("tenant id");
        let mut conn = self.state.db.control().acquire().await.expect("connection");
        crate::db::tenants::find_access(&mut conn, id).await.expect("tenant row").expect("tenant exists").schema
    }

    /// Puts a session's tenant on a plan of its own: a copy of Pro with `settings` (an SQL `set`
    /// list such as `kb_entries = 200`), so a test's limits never touch another test's plans.
    /// Returns the plan's id.
    pub async fn own_plan(&self, session: &Session, settings: &str) -> String {
        let id = unique("plan");
        let mut conn = self.db().acquire().await.expect("connection");
        sqlx::query(
            "insert into control.plans (id, name, seats, conversations_per_month, attachment_storage_mb,
                 attachment_max_mb, kb_entries, max_retention_days, export_conversations, api_requests_per_minute,
                 features, public)
             select $1, 'Test', seats, conversations_per_month, attachment_storage_mb, attachment_max_mb, kb_entries,
                 max_retention_days, export_conversations, api_requests_per_minute, features, false
             from control.plans where id = 'pro'",
        )
        .bind(&id)
        .execute(&mut *conn)
        .await
        .expect("a plan");
        if !settings.is_empty() {
            sqlx::query(sqlx::AssertSqlSafe(format!("update control.plans set {settings} where id = $1")))
                .bind(&id)
                .execute(&mut *conn)
                .await
                .expect("the plan's settings");
        }
        drop(conn);
        let schema = self.tenant_schema(&session.tenant_id).await;
        crate::billing::lifecycle::switch(self.databases(), &schema, &id, "test").await.expect("switch");
        id
    }

    /// Turns the session's FAQ bot on (lexical matching, threshold 0.7); asserts it was.
    pub async fn enable_bot(&self, session: &Session) {
        let on = json!({ "enabled": true, "threshold": 0.7, "matcher": "lexical" });
        let (status, body) = self.call("PUT", "/api/v1/bot", Some(&session.access), Some(on)).await;
        assert_eq!(status, StatusCode::OK, "turning the bot on: {body}");
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON
    /// (`Value::Null` for empty bodies).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, token, Some(body)).await
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call("GET", path, token, None).await
    }

    /// Uploads a file (`POST {path}?name=…`, the bytes as the body) with a member's or a
    /// visitor's token; the status and the JSON answer.
    pub async fn upload(&self, path: &str, token: &str, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let response = self
            .http
            .post(self.url(&format!("{path}?name={name}")))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("upload");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits (up to 10 s) until every stored message of the session's tenant is searchable.
    pub async fn wait_indexed(&self, session: &Session) {
        for _ in 0..200 {
            let (_, page) = self.get("/api/v1/search?q=x", Some(&session.access)).await;
            if page["unindexed"] == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("messages were left unindexed");
    }

    /// Signs up a fresh tenant and returns its owner's session.
    pub async fn signup(&self) -> Session {
        let email = format!("{}@example.com", unique("owner-"));
        let password = "correct horse battery staple";
        let (status, body) = self
            .post(
                "/api/v1/auth/signup",
                None,
                json!({ "company_name": unique("Acme "), "email": email, "password": password }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "signup: {body}");
        Session::from_response(&body, &email, password)
    }

    /// Signs up and verifies the owner's email through the mailed link.
    pub async fn verified_owner(&self) -> Session {
        let owner = self.signup().await;
        let token = self.mailed_token(&owner.email, "/verify-email?token=").await;
        let (status, body) = self.post("/api/v1/auth/verify-email", None, json!({ "token": token })).await;
        assert_eq!(status, StatusCode::OK, "verify: {body}");
        owner
    }

    /// The newest mails to an address, from the dev mailbox JSON.
    pub async fn mailbox(&self, to: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/dev/mailbox.json?to={to}"), None).await;
        assert_eq!(status, StatusCode::OK, "mailbox: {body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// The token of the newest mailed link to `to` containing `marker` (e.g. `/verify-email?token=`).
    pub async fn mailed_token(&self, to: &str, marker: &str) -> String {
        for mail in self.mailbox(to).await {
            let body = mail["body_text"].as_str().unwrap_or_default();
            if let Some(start) = body.find(marker) {
                let rest = &body[start + marker.len()..];
                return rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
        }
        panic!("no mail to {to} containing {marker}")
    }

    /// Invites `email` with `role` as `admin` and accepts it as a new account; returns the
    /// invitee's session.
    pub async fn invite_and_accept(&self, admin: &Session, role: &str) -> Session {
        let email = format!("{}@example.com", unique("agent-"));
        let (status, body) =
            self.post("/api/v1/invitations", Some(&admin.access), json!({ "email": email, "role": role })).await;
        assert_eq!(status, StatusCode::CREATED, "invite: {body}");
        let token = self.mailed_token(&email, "/accept-invite?token=").await;
        let password = "another good passphrase";
        let (status, body) = self
            .post(
                "/api/v1/invitations/accept",
                None,
                json!({ "token": token, "password": password, "display_name": "Agent Li" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "accept: {body}");
        Session::from_response(&body, &email, password)
    }
}

/// The tables of a tenant schema at tenant migration `version`, each with its columns (generated
/// ones included), as an older Kefu had them: built in a scratch schema of the database of `pool`
/// inside a transaction that is rolled back. For tests of archives written by older versions.
pub async fn tables_at_version(pool: &PgPool, version: i64) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut tx = pool.begin().await.expect("begin");
    let name = format!("x_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create schema {name}"))).execute(&mut *tx).await.expect("schema");
    crate::tenancy::apply_tenant_migrations(&mut tx, &name, 0, version).await.expect("migrations up to the version");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select c.relname::text, a.attname::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          where n.nspname = $1 and c.relkind = 'r' order by c.relname, a.attnum",
    )
    .bind(&name)
    .fetch_all(&mut *tx)
    .await
    .expect("columns");
    tx.rollback().await.expect("rollback");
    let mut tables = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (table, column) in rows {
        tables.entry(table).or_default().push(column);
    }
    tables
}

/// Initialises a test-friendly tracing subscriber once per process.
pub fn init_test_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
    });
}

/// A WebSocket test client speaking protocol v1.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// Frames read ahead (by [`WsClient::take_of`]) and not consumed yet, oldest first.
    pending: std::collections::VecDeque<Value>,
}

/// How a WebSocket session ended, as seen by the client.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEnd {
    /// A close frame with this code.
    Closed(u16),
    /// The stream ended without a close frame.
    Dropped,
}

impl WsClient {
    /// Connects; the error is the HTTP status of a refused upgrade.
    pub async fn connect(url: &str) -> Result<Self, u16> {
        Self::connect_with_headers(url, &[]).await
    }

    /// Connects with extra request headers (User-Agent, Accept-Language, …).
    pub async fn connect_with_headers(url: &str, headers: &[(&'static str, &str)]) -> Result<Self, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().expect("header value"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self { socket, pending: Default::default() }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(error) => panic!("websocket connect failed: {error}"),
        }
    }

    /// Connects with a small TCP receive buffer, so that a client that stops reading makes the
    /// server's writes back up quickly (a slow consumer).
    pub async fn connect_with_receive_buffer(url: &str, bytes: u32) -> Self {
        let address = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .and_then(|host| host.parse::<std::net::SocketAddr>().ok())
            .expect("ws://ip:port/ url");
        let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
        tcp.set_recv_buffer_size(bytes).expect("receive buffer");
        let stream = tcp.connect(address).await.expect("connect");
        let (socket, _) = tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket handshake");
        Self { socket, pending: Default::default() }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_raw(tokio_tungstenite::tungstenite::Message::text(frame.to_string())).await;
    }

    /// Sends any message.
    pub async fn send_raw(&mut self, message: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        self.socket.send(message).await.expect("ws send");
    }

    /// The next JSON frame (skipping pings), or the end of the session; panics after 30 s without
    /// one (a guard against hangs, generous because CI runs many tests at once on 2 cores).
    pub async fn next(&mut self) -> Result<Value, WsEnd> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        if let Some(frame) = self.pending.pop_front() {
            return Ok(frame);
        }
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(30), self.socket.next())
                .await
                .expect("no frame within 30 s");
            match next {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("server sends JSON")),
                Some(Ok(Message::Close(frame))) => {
                    return Err(WsEnd::Closed(frame.map_or(1005, |f| u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(WsEnd::Dropped),
            }
        }
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await.unwrap_or_else(|end| panic!("session ended ({end:?}) waiting for {kind}"));
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next frame of `kind`, keeping the frames before it for later `next` calls (for frames
    /// whose order relative to others the protocol does not fix).
    pub async fn take_of(&mut self, kind: &str) -> Value {
        if let Some(index) = self.pending.iter().position(|frame| frame["type"] == kind) {
            return self.pending.remove(index).unwrap_or_default();
        }
        let mut skipped = Vec::new();
        let found = loop {
            let frame = self.next().await.unwrap_or_else(|end| panic!("session ended ({end:?}) waiting for {kind}"));
            if frame["type"] == kind {
                break frame;
            }
            skipped.push(frame);
        };
        self.pending.extend(skipped);
        found
    }

    /// The next `status` frame for which `wanted` holds, skipping other frames and earlier
    /// statuses (the queue watch pushes one whenever the visitor's place or the availability
    /// moves, so intermediate ones may come first).
    pub async fn status_where(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.take_of("status"))
                .await
                .unwrap_or_else(|_| panic!("no status where {what}"));
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// The next `message` frame whose sender is of `kind` (`bot`, `auto`, …), within 20 s,
    /// skipping other messages.
    pub async fn message_from(&mut self, kind: &str) -> Value {
        let wait = async {
            loop {
                let message = self.take_of("message").await;
                if message["sender"]["kind"] == kind {
                    return message;
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("no message from `{kind}` within 20 s"))
    }

    /// Asserts that no message from `kind` arrives within `millis` (other frames may).
    pub async fn no_message_from(&mut self, kind: &str, millis: u64) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(millis);
        while let Ok(frame) = tokio::time::timeout_at(deadline, self.next()).await {
            let frame = frame.expect("the session goes on");
            assert!(
                !(frame["type"] == "message" && frame["sender"]["kind"] == kind),
                "a message from `{kind}`: {frame}"
            );
        }
    }

    /// Asserts that no frame arrives within `millis`.
    pub async fn expect_silence(&mut self, millis: u64) {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        assert!(self.pending.is_empty(), "expected silence, but frames were read ahead: {:?}", self.pending);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(millis);
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }
}

impl TestApp {
    /// `ws://addr{path}`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Mints a visitor token the way the edge does, for `tenant_id` (`tnt_…`).
    pub fn visitor_token(&self, tenant_id: &str, visitor: kefu_protocol::VisitorId, ttl_secs: i64) -> String {
        self.identified_visitor_token(tenant_id, visitor, ttl_secs, None, None)
    }

    /// Mints a visitor token for a signed-in customer `ext_user` with a VIP level, as the edge
    /// does after checking the identity hash.
    pub fn identified_visitor_token(
        &self,
        tenant_id: &str,
        visitor: kefu_protocol::VisitorId,
        ttl_secs: i64,
        ext_user: Option<&str>,
        vip: Option<u8>,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = kefu_protocol::VisitorClaims {
            iss: kefu_protocol::ISSUER.into(),
            aud: kefu_protocol::VISITOR_AUDIENCE.into(),
            sub: visitor,
            tid: tenant_id.parse().expect("tenant id"),
            region: self.state.config.region.clone(),
            ext_user: ext_user.map(str::to_owned),
            vip,
            country: None,
            iat: now,
            exp: now + ttl_secs,
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        self.state.jwt.visitor_keys().sign(&claims).expect("sign")
    }

    /// A connected visitor that said hello and read the welcome and the `status` frame that
    /// follows it (returned inside the welcome, under `"status"`).
    pub async fn visitor(
        &self,
        tenant_id: &str,
        visitor: kefu_protocol::VisitorId,
        last_seq: Option<i64>,
    ) -> (WsClient, Value) {
        self.visitor_with_token(&self.visitor_token(tenant_id, visitor, 600), last_seq).await
    }

    /// As [`Self::visitor`], with a token minted by the caller.
    pub async fn visitor_with_token(&self, token: &str, last_seq: Option<i64>) -> (WsClient, Value) {
        let url = self.ws_url(&format!("/ws/visitor?token={token}"));
        let mut client = WsClient::connect_with_headers(&url, &[EDGE_PROOF]).await.expect("upgrade");
        client.send(json!({ "type": "hello", "protocol": 1, "last_seq": last_seq })).await;
        let mut welcome = client.next_of("welcome").await;
        // The status is computed off the session's path: replayed messages may come first.
        welcome["status"] = client.take_of("status").await;
        (client, welcome)
    }

    /// A visitor (`token`) whose browser prefers `language` (`Accept-Language`), connected and
    /// past `welcome` (the first `status` is left to read).
    pub async fn visitor_speaking(&self, token: &str, language: &str) -> WsClient {
        let url = self.ws_url(&format!("/ws/visitor?token={token}"));
        let mut client =
            WsClient::connect_with_headers(&url, &[("accept-language", language), EDGE_PROOF]).await.expect("upgrade");
        client.send(json!({ "type": "hello", "protocol": 1 })).await;
        client.next_of("welcome").await;
        client
    }

    /// A connected agent that said hello.
    pub async fn agent(&self, session: &Session) -> WsClient {
        let mut client =
            WsClient::connect(&self.ws_url(&format!("/ws/agent?token={}", session.access))).await.expect("upgrade");
        client.send(json!({ "type": "hello", "protocol": 1 })).await;
        client.next_of("welcome").await;
        client
    }
}
