//! Transport security with certificates made for the test (a throwaway CA from rcgen): the real
//! `kefu` binary against a Postgres of the test's own with `ssl = on` and a `redis-server` (and a
//! three-node Redis Cluster) speaking TLS only and requiring client certificates.
//!
//! - `sslmode=verify-full&sslrootcert=…` for the control database and for a tenant database
//!   registered with `kefu databases add`, a tenant placed there, `rediss://` with
//!   `redis.ca_file` and a client certificate: migrate, serve on two nodes, `/readyz`, a signup,
//!   a conversation crossing nodes over Redis pub/sub; Postgres sees only TLS connections.
//! - Refusals: a CA that did not sign the server's certificate, a certificate for another host,
//!   `verify-full` against a server without TLS, a Redis CA that does not match, no client
//!   certificate: `kefu` exits at once with the reason, never hangs.
//! - A Redis Cluster over TLS (sharded pub/sub across two nodes).
//!
//! Nothing here skips: a server that cannot start fails the test.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;
use std::time::{Duration, Instant};

use kefu_protocol::VisitorId;
use kefu_tests::{
    FreshDatabase, OwnPostgres, OwnRedis, OwnRedisCluster, Server, TlsFiles, inbox_agent_on, kefu, messages_until,
    signup_owner, visitor_on,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};
use sqlx::ConnectOptions;

/// A throwaway CA, its files in a directory of the test's own (removed when dropped).
struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
    ca_file: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kefu-tls-{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("Kefu test CA {name}"));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA certificate");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write CA");
        Self { dir, ca, ca_file }
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by this CA, usable by a
    /// server and as a client certificate (Redis's cluster bus presents its server certificate
    /// to the other nodes): its certificate and key files.
    fn issue(&self, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("params");
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or(file));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        let (cert_file, key_file) = (self.dir.join(format!("{file}.pem")), self.dir.join(format!("{file}.key")));
        std::fs::write(&cert_file, cert.pem()).expect("write certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write key");
        (cert_file, key_file)
    }

    /// A server certificate for `names` and a client certificate, with this CA.
    fn files(&self, names: &[&str]) -> TlsFiles {
        let (cert, key) = self.issue("server", names);
        let (client_cert, client_key) = self.issue("client", &["kefu-node"]);
        TlsFiles { ca: self.ca_file.clone(), cert, key, client_cert, client_key }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Postgres URL on `localhost` that verifies the server's certificate against `ca`.
fn verify_full(port: u16, database: &str, ca: &Path) -> String {
    format!("postgres://postgres@localhost:{port}/{database}?sslmode=verify-full&sslrootcert={}", ca.display())
}

/// Creates `name` on the server `admin_url` reaches (over the URL's TLS).
async fn create_database(admin_url: &str, name: &str) {
    let options = sqlx::postgres::PgConnectOptions::from_str(admin_url).expect("url");
    let mut conn = options.connect().await.expect("connect over TLS");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
    )))
    .execute(&mut conn)
    .await
    .expect("create database");
}

/// The Redis settings of a node that trusts `tls.ca` and presents its client certificate.
fn redis_tls_env(tls: &TlsFiles) -> Vec<(&'static str, String)> {
    vec![
        ("KEFU_REDIS__CA_FILE", tls.ca.display().to_string()),
        ("KEFU_REDIS__CLIENT_CERT_FILE", tls.client_cert.display().to_string()),
        ("KEFU_REDIS__CLIENT_KEY_FILE", tls.client_key.display().to_string()),
    ]
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs a `kefu` command that must fail by itself within 30 seconds (not hang); its output.
fn fails_quickly(mut command: std::process::Command, what: &str) -> String {
    let started = Instant::now();
    let mut child =
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn kefu");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!("{what}: kefu did not give up within 30 s: {}", text(&output));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    assert!(!output.status.success(), "{what}: kefu succeeded: {}", text(&output));
    text(&output)
}

/// A visitor on `visitor_base` and the owner on `agent_base` talk: the inbox event and the
/// messages cross nodes through Redis.
async fn conversation_crosses_nodes(visitor_base: &str, agent_base: &str, token: &str, tenant: &str) {
    let mut agent = inbox_agent_on(agent_base, token).await;
    let mut visitor = visitor_on(visitor_base, tenant, VisitorId::from_uuid(uuid::Uuid::new_v4()), 0).await;
    visitor.send(json!({ "type": "send", "client_id": "c1", "body": "hello over TLS" })).await;
    let ack = visitor.next_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    let update = agent.next_of("conversation_updated").await;
    assert_eq!(update["conversation_id"], conversation.as_str(), "the inbox event crossed nodes over Redis");
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    messages_until(&mut agent, 1).await;
    visitor.send(json!({ "type": "send", "client_id": "c2", "body": "and again" })).await;
    visitor.next_of("ack").await;
    messages_until(&mut agent, 2).await;
}

#[tokio::test]
async fn kefu_serves_over_verified_tls_to_postgres_a_tenant_database_and_redis() {
    let pki = Pki::new("ok");
    let tls = pki.files(&["localhost", "127.0.0.1"]);
    // Plain TCP is refused by pg_hba.conf: whatever connects, connects over TLS.
    let pg = OwnPostgres::start_tls(&tls, true);
    let redis = OwnRedis::start_tls(&tls);
    create_database(&verify_full(pg.port, "postgres", &tls.ca), "kefu_control").await;
    create_database(&verify_full(pg.port, "postgres", &tls.ca), "kefu_tenants").await;
    let control = verify_full(pg.port, "kefu_control", &tls.ca);
    let tenants = verify_full(pg.port, "kefu_tenants", &tls.ca);

    let output = kefu(&control).arg("migrate").output().expect("migrate");
    assert!(output.status.success(), "migrate over verify-full: {}", text(&output));
    let output = kefu(&control).args(["databases", "add", "tls-tenants", "--url", &tenants]).output().expect("add");
    assert!(output.status.success(), "register a tenant database over verify-full: {}", text(&output));
    let output = kefu(&control).args(["databases", "set", "main", "--accepting", "false"]).output().expect("set");
    assert!(output.status.success(), "{}", text(&output));
    let output = kefu(&control).args(["databases", "list"]).output().expect("list");
    let list = text(&output);
    assert!(
        list.lines().any(|l| l.starts_with("tls-tenants") && l.contains("sslmode=verify-full (local)")),
        "the list says how each database is reached: {list}"
    );

    let redis_url = redis.url();
    let mut env = redis_tls_env(&tls);
    env.push(("REDIS_URL", redis_url));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let node_a = Server::start(&control, &env).await;
    let node_b = Server::start(&control, &env).await;
    let ready: Value =
        reqwest::get(format!("{}/readyz", node_a.base)).await.expect("readyz").json().await.expect("json");
    assert_eq!(ready, json!({ "status": "ready", "postgres": "ok", "redis": "ok" }));

    let (token, tenant) = signup_owner(&node_a.base, "TLS Shop", "owner@tls-shop.example").await;
    let options = sqlx::postgres::PgConnectOptions::from_str(&control).expect("url");
    let mut conn = options.connect().await.expect("connect");
    let placed: String = sqlx::query_scalar("select database_id from control.tenants where id = $1::uuid")
        .bind(tenant.trim_start_matches("tnt_"))
        .fetch_one(&mut conn)
        .await
        .expect("placement");
    assert_eq!(placed, "tls-tenants", "the new tenant lives in the tenant database reached over verify-full");
    conversation_crosses_nodes(&node_a.base, &node_b.base, &token, &tenant).await;

    let (plain, encrypted): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where not s.ssl), count(*) filter (where s.ssl)
         from pg_stat_activity a join pg_stat_ssl s using (pid) where a.application_name = 'kefu'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_ssl");
    assert_eq!(plain, 0, "no plain connection from kefu");
    assert!(encrypted >= 2, "both nodes' pools are connected over TLS ({encrypted})");
}

#[tokio::test]
async fn wrong_certificates_and_missing_tls_stop_kefu_at_once_with_the_reason() {
    let pki = Pki::new("main");
    let other = Pki::new("other");
    // Valid for `localhost` only: reaching it as 127.0.0.1 is reaching another host.
    let tls = pki.files(&["localhost"]);
    let pg = OwnPostgres::start_tls(&tls, false);
    let redis = OwnRedis::start_tls(&tls);
    create_database(&verify_full(pg.port, "postgres", &tls.ca), "kefu_control").await;
    let control = verify_full(pg.port, "kefu_control", &tls.ca);
    let output = kefu(&control).arg("migrate").output().expect("migrate");
    assert!(output.status.success(), "{}", text(&output));

    // A CA that did not sign the server's certificate: serve stops at start.
    let wrong_ca = verify_full(pg.port, "kefu_control", &other.ca_file);
    let mut serve = kefu(&wrong_ca);
    serve.arg("serve").env("KEFU_LISTEN", "127.0.0.1:0");
    let out = fails_quickly(serve, "wrong CA");
    assert!(out.contains("cannot connect to the control database"), "{out}");
    assert!(out.contains("invalid peer certificate") && out.contains("UnknownIssuer"), "{out}");
    // The same for a tenant database: it is not registered.
    let mut add = kefu(&control);
    add.args(["databases", "add", "other-ca", "--url", &verify_full(pg.port, "postgres", &other.ca_file)]);
    let out = fails_quickly(add, "tenant database with a wrong CA");
    assert!(out.contains("tenant database `other-ca`") && out.contains("UnknownIssuer"), "{out}");

    // The right CA, but the certificate does not name the host connected to.
    let other_host = control.replace("@localhost:", "@127.0.0.1:");
    let mut serve = kefu(&other_host);
    serve.arg("serve").env("KEFU_LISTEN", "127.0.0.1:0");
    let out = fails_quickly(serve, "certificate for another host");
    assert!(out.contains("certificate not valid for name \"127.0.0.1\""), "{out}");

    // A CA file that is not there: a configuration problem, before connecting (exit 2).
    let missing = control.replace("ca.pem", "missing-ca.pem");
    let out = fails_quickly(kefu(&missing), "missing sslrootcert");
    assert!(out.contains("sslrootcert") && out.contains("missing-ca.pem") && out.contains("cannot be read"), "{out}");
    // `require` with a CA verifies nothing in sqlx (libpq would): refused as a mistake.
    let mut migrate = kefu(&control.replace("verify-full", "require"));
    migrate.arg("migrate");
    let out = fails_quickly(migrate, "require with sslrootcert");
    assert!(out.contains("use sslmode=verify-full"), "{out}");
    // Production refuses a database off this machine without verify-full, before connecting.
    let mut production = kefu("postgres://kefu@db.invalid:5432/kefu?sslmode=require");
    production.arg("migrate").env("KEFU_MODE", "production");
    let out = fails_quickly(production, "production without verify-full");
    assert!(out.contains("KEFU_DATABASE__ALLOW_INSECURE_TRANSPORT"), "{out}");

    // Redis: a CA that did not sign its certificate, then no client certificate.
    let mut serve = kefu(&control);
    serve
        .args(["serve"])
        .env("KEFU_LISTEN", "127.0.0.1:0")
        .env("REDIS_URL", redis.url())
        .env("KEFU_REDIS__CA_FILE", &other.ca_file);
    let out = fails_quickly(serve, "Redis with a wrong CA");
    assert!(out.contains("connecting to Redis") && out.contains("UnknownIssuer"), "{out}");
    let mut serve = kefu(&control);
    serve
        .args(["serve"])
        .env("KEFU_LISTEN", "127.0.0.1:0")
        .env("REDIS_URL", redis.url())
        .env("KEFU_REDIS__CA_FILE", &tls.ca);
    let out = fails_quickly(serve, "Redis without a client certificate");
    assert!(out.contains("connecting to Redis"), "{out}");

    // The server turns TLS off: verify-full refuses to go on in plain text.
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", pg.port);
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(&admin).expect("url").connect().await.expect("connect");
    sqlx::query("alter system set ssl = off").execute(&mut conn).await.expect("ssl off");
    sqlx::query("select pg_reload_conf()").execute(&mut conn).await.expect("reload");
    let started = Instant::now();
    loop {
        let ssl: String = sqlx::query_scalar("show ssl").fetch_one(&mut conn).await.expect("show");
        // `show` reads this backend's copy, updated when it next reads the configuration.
        if ssl == "off" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "ssl stayed on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut migrate = kefu(&control);
    migrate.arg("migrate");
    let out = fails_quickly(migrate, "verify-full against a server without TLS");
    assert!(out.contains("server does not support TLS"), "{out}");
}

#[tokio::test]
async fn a_redis_cluster_over_tls_carries_a_conversation_between_nodes() {
    let pki = Pki::new("cluster");
    // The nodes announce themselves as 127.0.0.1: their certificate names that address.
    let tls = pki.files(&["localhost", "127.0.0.1"]);
    let cluster = OwnRedisCluster::start_tls(&tls);
    let db = FreshDatabase::create().await;
    let nodes = cluster.nodes();
    assert!(nodes.starts_with("rediss://"), "{nodes}");
    let mut env = redis_tls_env(&tls);
    env.push(("KEFU_REDIS__CLUSTER_NODES", nodes));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let node_a = Server::start(&db.url, &env).await;
    let node_b = Server::start(&db.url, &env).await;
    let ready: Value =
        reqwest::get(format!("{}/readyz", node_b.base)).await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["redis"], "ok", "{ready}");
    let (token, tenant) = signup_owner(&node_a.base, "TLS Cluster Shop", "owner@tls-cluster.example").await;
    conversation_crosses_nodes(&node_a.base, &node_b.base, &token, &tenant).await;
}
