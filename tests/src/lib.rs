//! Helpers for end-to-end tests: locate the `kefu` binary, give each test its own fresh
//! database, start server processes on free ports and wait for readiness.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

/// A binary built in this workspace's target directory.
fn workspace_bin(name: &str, package: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug").join(name);
    assert!(bin.exists(), "{} is missing: run `cargo build -p {package} --bin {name}` (make test does)", bin.display());
    bin
}

/// The `kefu` binary built in this workspace's target directory.
pub fn kefu_bin() -> PathBuf {
    workspace_bin("kefu", "kefu-api")
}

/// The native `kefu-edge` binary.
pub fn edge_bin() -> PathBuf {
    workspace_bin("kefu-edge", "kefu-edge")
}

/// Polls `url` until it answers 2xx; panics with `what` after `limit`.
pub async fn wait_until_up(url: &str, limit: Duration, what: &str) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(started.elapsed() < limit, "{what} did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The edge secret the e2e api servers accept when started with [`EDGE_ENV`].
pub const EDGE_SECRET: &str = "an-end-to-end-edge-secret-of-enough-length";

/// Environment that lets an api server accept the e2e edge.
pub const EDGE_ENV: (&str, &str) = ("KEFU_EDGE__SECRET", EDGE_SECRET);

/// A native `kefu-edge` process, killed when dropped.
pub struct Edge {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
    _config: tempfile_free::TempFile,
}

/// The console's built files (console/dist, built by `make test` with `npm run build`).
pub fn console_dist() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console/dist");
    assert!(
        dist.join("index.html").exists(),
        "{} is missing: build the console (`npm run build` in console/; make test does)",
        dist.display()
    );
    dist
}

/// The widget's built files (edge/widget/dist, built by `make test` with `npm run build`).
pub fn widget_dist() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../edge/widget/dist");
    assert!(
        dist.join("widget/manifest.json").exists(),
        "{} is missing: build the widget (`npm run build` in edge/widget; make test does)",
        dist.display()
    );
    dist
}

impl Edge {
    /// Starts the edge with one region per `(name, api base URL)` (all with [`VISITOR_KEYS`]),
    /// extra TOML lines (limits, cache time), and waits for `/healthz`.
    pub async fn start(regions: &[(&str, &str)], extra: &str) -> Self {
        Self::start_with_keys(&regions.iter().map(|(n, u)| (*n, *u, VISITOR_KEYS)).collect::<Vec<_>>(), extra).await
    }

    /// Like [`Edge::start`] with each region's own visitor keys.
    pub async fn start_with_keys(regions: &[(&str, &str, &str)], extra: &str) -> Self {
        Self::start_public(regions, extra, None).await
    }

    /// Like [`Edge::start_with_keys`], telling visitors to reach the edge at `public_url` (a proxy
    /// in front of it, for tests that cut the network).
    pub async fn start_public(regions: &[(&str, &str, &str)], extra: &str, public_url: Option<&str>) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let widget_dir = widget_dist();
        let public_url = public_url.unwrap_or(&base);
        let mut toml = format!(
            "public_url = \"{public_url}\"\napi_secret = \"{EDGE_SECRET}\"\nvisitor_secret = \"an-end-to-end-visitor-secret-of-length\"\n\
             widget_dir = \"{}\"\n{extra}\n",
            widget_dir.display()
        );
        for (name, api, keys) in regions {
            toml.push_str(&format!("[[regions]]\nname = \"{name}\"\napi_url = \"{api}\"\nvisitor_keys = \"{keys}\"\n"));
        }
        let config = tempfile_free::TempFile::with_contents("edge.toml", &toml);
        let child = Command::new(edge_bin())
            .args(["--config", &config.path.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kefu-edge");
        let edge = Self { child, base, _config: config };
        wait_until_up(&format!("{}/healthz", edge.base), Duration::from_secs(30), "kefu-edge").await;
        edge
    }
}

impl Edge {
    /// Starts the **wasm** edge (edge/worker, built by `make test`) in workerd through
    /// `wrangler dev --local`, with the same settings as [`Edge::start`]. Needs
    /// `KEFU_TEST_NODE_BIN` (Node 22's bin directory) from infra/local/test.sh.
    pub async fn start_wasm(regions: &[(&str, &str)], cache_secs: u64, per_ip_per_minute: u32) -> Self {
        let node_bin = std::env::var("KEFU_TEST_NODE_BIN").expect("KEFU_TEST_NODE_BIN (make test sets it)");
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let worker = repo.join("edge/worker/build/index.js");
        assert!(worker.exists(), "{} is missing: make test builds it with worker-build", worker.display());
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let wrangler = format!(
            "name = \"kefu-edge-test\"\nmain = \"{}\"\ncompatibility_date = \"2026-11-01\"\n\
             [[ratelimits]]\nname = \"RATE_LIMIT_IP\"\nnamespace_id = \"1001\"\nsimple = {{ limit = {per_ip_per_minute}, period = 60 }}\n\
             [assets]\ndirectory = \"{}\"\nbinding = \"ASSETS\"\n\
             [vars]\nPUBLIC_URL = \"{base}\"\nCACHE_SECS = \"{cache_secs}\"\n",
            worker.display(),
            widget_dist().display()
        );
        let regions: Vec<serde_json::Value> = regions
            .iter()
            .map(|(name, api)| serde_json::json!({ "name": name, "api_url": api, "visitor_keys": VISITOR_KEYS }))
            .collect();
        let vars = format!(
            "API_SECRET={EDGE_SECRET}\nVISITOR_SECRET=an-end-to-end-visitor-secret-of-length\nREGIONS='{}'\n",
            serde_json::Value::Array(regions)
        );
        let config = tempfile_free::TempFile::with_contents("wrangler.toml", &wrangler);
        let dir = config.path.parent().expect("temp dir").to_path_buf();
        std::fs::write(dir.join(".dev.vars"), vars).expect("dev vars");
        let path = format!("{node_bin}:{}", std::env::var("PATH").unwrap_or_default());
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(repo.join("edge/node_modules/.bin/wrangler"))
                .args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string(), "--log-level", "warn"])
                .current_dir(&dir)
                .env("PATH", path)
                .env("WRANGLER_SEND_METRICS", "false")
                .env("XDG_CONFIG_HOME", &dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .process_group(0)
                .spawn()
                .expect("spawn wrangler dev")
        };
        let edge = Self { child, base, _config: config };
        wait_until_up(&format!("{}/healthz", edge.base), Duration::from_secs(60), "wrangler dev").await;
        edge
    }
}

/// Every process below `pid` (children first found, then theirs).
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let output = Command::new("pgrep").args(["-P", &parent.to_string()]).output();
        for child in output.iter().flat_map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned().lines().map(str::to_owned).collect::<Vec<_>>()
        }) {
            if let Ok(child) = child.trim().parse::<u32>() {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

impl Drop for Edge {
    fn drop(&mut self) {
        // wrangler starts workerd (which may leave the process group): kill the whole tree.
        for pid in descendants(self.child.id()) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod tempfile_free {
    //! A file under the system temp directory, removed on drop.
    use std::path::PathBuf;

    pub struct TempFile {
        pub path: PathBuf,
    }

    impl TempFile {
        pub fn with_contents(name: &str, contents: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("kefu-e2e-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join(name);
            std::fs::write(&path, contents).expect("write temp file");
            Self { path }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// A database created for one test and dropped when this value is dropped.
pub struct FreshDatabase {
    /// Its URL.
    pub url: String,
    name: String,
    admin: PgConnectOptions,
}

impl FreshDatabase {
    /// Creates `kefu_e2e_<random>` next to `DATABASE_URL`'s database.
    pub async fn create() -> Self {
        let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (run through `make test`)");
        let admin = PgConnectOptions::from_str(&base).expect("DATABASE_URL parses");
        let name = format!("kefu_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.connect().await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )))
        .execute(&mut conn)
        .await
        .expect("create database");
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Self { url, name, admin }
    }

    /// A pool on it.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&self.url).await.expect("pool")
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop from a separate thread with its own runtime: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)")))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A `kefu` command with a clean, explicit environment for `database_url`.
pub fn kefu(database_url: &str) -> Command {
    let mut command = Command::new(kefu_bin());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("KEFU_MODE", "development")
        .env("KEFU_AUTH__SIGNING_KEYS", SIGNING_KEYS)
        .env("KEFU_AUTH__VISITOR_KEYS", VISITOR_KEYS)
        // Attachments of every test node in one directory outside the repository (ids are
        // unique, and a node restarted by a test finds its files again).
        .env("KEFU_ATTACHMENTS__LOCAL_DIR", std::env::temp_dir().join("kefu-tests-attachments"))
        // `KEFU_TEST_API_LOG` (a tracing filter) shows more of the test nodes' logs when debugging.
        .env("RUST_LOG", std::env::var("KEFU_TEST_API_LOG").unwrap_or_else(|_| "warn".into()));
    command
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A `kefu serve` process, killed when dropped.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

impl Server {
    /// Starts `kefu serve --migrate` and waits until `/readyz` answers 200 (at most 60 s).
    pub async fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Self {
        Self::start_on(database_url, extra_env, free_port()).await
    }

    /// Like [`Server::start`] on a given port (to bring a killed node back where it was).
    pub async fn start_on(database_url: &str, extra_env: &[(&str, &str)], port: u16) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let mut command = kefu(database_url);
        command
            .args(["serve", "--migrate"])
            .env("KEFU_LISTEN", format!("127.0.0.1:{port}"))
            .env("KEFU_PUBLIC_URL", &base)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let child = command.spawn().expect("spawn kefu serve");
        let server = Self { child, base };
        wait_until_up(&format!("{}/readyz", server.base), Duration::from_secs(60), "kefu serve").await;
        server
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The members' signing key the e2e servers run with (see [`kefu`]); only the api has it.
pub const SIGNING_KEYS: &str = "e2e:an-end-to-end-signing-secret-of-enough-length";

/// The visitor key the e2e servers and edges share (see [`kefu`], [`Edge::start`]).
pub const VISITOR_KEYS: &str = "e2e-visitor:an-end-to-end-visitor-key-of-enough-length";

/// Mints a visitor token for `tenant_id` as the edge would.
pub fn visitor_token(tenant_id: &str, visitor: kefu_protocol::VisitorId) -> String {
    let (kid, secret) = VISITOR_KEYS.split_once(':').expect("kid:secret");
    let keys = kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("keys");
    let now = chrono::Utc::now().timestamp();
    keys.sign(&kefu_protocol::VisitorClaims {
        iss: kefu_protocol::ISSUER.into(),
        aud: kefu_protocol::VISITOR_AUDIENCE.into(),
        sub: visitor,
        tid: tenant_id.parse().expect("tenant id"),
        region: "local".into(),
        ext_user: None,
        vip: None,
        country: None,
        iat: now,
        exp: now + 600,
        jti: uuid::Uuid::new_v4().simple().to_string(),
    })
    .expect("sign")
}

/// A `redis-server` of the test's own on a free port (so it can be killed and restarted
/// without disturbing anything else), stopped when dropped.
pub struct OwnRedis {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
    tls: Option<TlsFiles>,
}

/// PEM files of a test's own TLS servers ([`OwnRedis::start_tls`], [`OwnRedisCluster::start_tls`],
/// [`OwnPostgres::start_tls`]): the CA, which signed the server's certificate and which the
/// server also trusts for client certificates, the server's certificate and key, and a client
/// certificate and key signed by the same CA.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// A client certificate.
    pub client_cert: PathBuf,
    /// Its private key.
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// The arguments of a `redis-server` serving TLS only on `port` (and requiring client
    /// certificates, Redis's default).
    fn redis_server_args(&self, port: u16) -> Vec<String> {
        let mut args: Vec<String> = ["--port", "0", "--tls-port"].map(String::from).to_vec();
        args.push(port.to_string());
        for (flag, path) in
            [("--tls-cert-file", &self.cert), ("--tls-key-file", &self.key), ("--tls-ca-cert-file", &self.ca)]
        {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args
    }

    /// The arguments `redis-cli` needs to reach such a server.
    fn redis_cli_args(&self) -> Vec<String> {
        let mut args = vec!["--tls".to_owned()];
        for (flag, path) in [("--cacert", &self.ca), ("--cert", &self.client_cert), ("--key", &self.client_key)] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args
    }
}

impl OwnRedis {
    /// Starts one and waits until it answers.
    pub fn start() -> Self {
        let port = free_port();
        let mut redis = Self { port, child: None, tls: None };
        redis.restart();
        redis
    }

    /// Starts one that speaks TLS only (no plain port), with `tls`'s certificate, requiring
    /// client certificates signed by its CA.
    pub fn start_tls(tls: &TlsFiles) -> Self {
        let port = free_port();
        let mut redis = Self { port, child: None, tls: Some(tls.clone()) };
        redis.restart();
        redis
    }

    /// Its URL (`rediss://localhost:…` with TLS).
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }

    /// Kills it (SIGKILL: nothing is flushed; it keeps no data anyway).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts it on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let port_args = match &self.tls {
            None => vec!["--port".to_owned(), self.port.to_string()],
            Some(tls) => tls.redis_server_args(self.port),
        };
        let child = Command::new("redis-server")
            .args(port_args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed by infra/local/services.sh)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of the test's own: three masters (no replicas) on free ports, their cluster
/// configuration kept in a temporary directory so that a killed node restarted on its port
/// rejoins with its slots. Stopped and removed when dropped.
pub struct OwnRedisCluster {
    /// The nodes' ports.
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: PathBuf,
    tls: Option<TlsFiles>,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 20_000) as u16;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

impl OwnRedisCluster {
    /// Starts three nodes, joins them into one cluster and waits until it serves every slot.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Like [`OwnRedisCluster::start`], every node speaking TLS only (clients and the cluster
    /// bus), with `tls`'s certificate (which must name 127.0.0.1: the nodes announce their
    /// addresses), requiring client certificates signed by its CA.
    pub fn start_tls(tls: &TlsFiles) -> Self {
        Self::start_with(Some(tls.clone()))
    }

    fn start_with(tls: Option<TlsFiles>) -> Self {
        let dir = std::env::temp_dir().join(format!("kefu-redis-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let ports: Vec<u16> = (0..3).map(|_| free_cluster_port()).collect();
        let mut cluster = Self { children: ports.iter().map(|_| None).collect(), ports, dir, tls };
        for node in 0..3 {
            cluster.restart(node);
        }
        let addresses: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = cluster
            .cli()
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (installed by infra/local/services.sh)");
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_ok();
        cluster
    }

    /// The seed nodes, as `redis.cluster_nodes` takes them.
    pub fn nodes(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        self.ports.iter().map(|p| format!("{scheme}://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// `redis-cli`, with the TLS arguments when the cluster speaks TLS.
    fn cli(&self) -> Command {
        let mut command = Command::new("redis-cli");
        if let Some(tls) = &self.tls {
            command.args(tls.redis_cli_args());
        }
        command
    }

    /// Kills one node (SIGKILL).
    pub fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.children[node].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts one node on its port with its cluster configuration and waits until it
    /// accepts connections.
    pub fn restart(&mut self, node: usize) {
        self.kill(node);
        let port = self.ports[node];
        let port_args = match &self.tls {
            None => vec!["--port".to_owned(), port.to_string()],
            Some(tls) => {
                let mut args = tls.redis_server_args(port);
                args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(String::from));
                args
            }
        };
        let child = Command::new("redis-server")
            .args(port_args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--dir", &self.dir.to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed by infra/local/services.sh)");
        self.children[node] = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every node reports the cluster ok (all slots served).
    pub fn wait_ok(&self) {
        let started = Instant::now();
        loop {
            let ok = self.ports.iter().all(|port| {
                self.cli()
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
            });
            if ok {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the Redis cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OwnRedisCluster {
    fn drop(&mut self) {
        for node in 0..self.children.len() {
            self.kill(node);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Postgres server of the test's own (initdb into a temporary directory, run as the
/// `postgres` user because Postgres refuses to run as root), so a test can stop and start it
/// without disturbing the shared one. Stopped and removed when dropped.
pub struct OwnPostgres {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl OwnPostgres {
    /// Creates and starts a cluster with trust authentication on a free port.
    pub fn start() -> Self {
        let pg = Self::create();
        pg.start_server();
        pg
    }

    /// Like [`OwnPostgres::start`] with TLS on (`ssl = on` in postgresql.conf, so a test may turn
    /// it off with `alter system` and a reload), `tls`'s server certificate and key, and prepared
    /// transactions allowed (it can hold tenant databases). With `tls_only`, pg_hba.conf accepts
    /// TCP connections over TLS only (`hostssl`), so a connection that works proves TLS.
    pub fn start_tls(tls: &TlsFiles, tls_only: bool) -> Self {
        let pg = Self::create();
        let host = if tls_only { "hostssl" } else { "host" };
        let hba = format!("local all all trust\n{host} all all 127.0.0.1/32 trust\n{host} all all ::1/128 trust\n");
        let settings =
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nmax_prepared_transactions = 64\n";
        // Written here, then copied by the postgres user into its data directory.
        std::fs::write(pg.dir.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        std::fs::write(pg.dir.join("tls.conf"), settings).expect("write tls.conf");
        let script = format!(
            "set -e; cd '{data}'; cp '{cert}' server.crt; cp '{key}' server.key; chmod 600 server.key; \
             cp ../pg_hba.conf pg_hba.conf; cat ../tls.conf >> postgresql.conf",
            data = pg.data(),
            cert = tls.cert.display(),
            key = tls.key.display(),
        );
        let output = pg.as_postgres(std::path::Path::new("/bin/sh")).args(["-c", &script]).output().expect("sh");
        assert!(output.status.success(), "configuring TLS failed: {}", String::from_utf8_lossy(&output.stderr));
        pg.start_server();
        pg
    }

    fn create() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Postgres is installed (infra/local/services.sh)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("a Postgres version with initdb");
        let dir = std::env::temp_dir().join(format!("kefu-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let status = Command::new("chown").args(["postgres:postgres", dir.to_str().unwrap_or_default()]).status();
        assert!(status.is_ok_and(|s| s.success()), "chown the data directory to postgres");
        let pg = Self { port: free_port(), dir, bin };
        let output = pg
            .as_postgres(&pg.bin.join("initdb"))
            .args(["-D", &pg.data(), "-A", "trust", "-U", "postgres", "--locale=C.UTF-8", "-E", "UTF8"])
            .output()
            .expect("initdb");
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn as_postgres(&self, program: &std::path::Path) -> Command {
        let mut command = if nix_is_root() { Command::new("runuser") } else { Command::new("sudo") };
        if nix_is_root() {
            command.args(["-u", "postgres", "--"]);
        } else {
            command.args(["-u", "postgres"]);
        }
        command.arg(program).current_dir(&self.dir);
        command
    }

    fn start_server(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("log").display().to_string();
        let status = self
            .as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-o", &options, "-l", &log, "-w", "-t", "30", "start"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl start");
        assert!(
            status.success(),
            "pg_ctl start failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default().lines().rev().take(10).collect::<Vec<_>>().join("\n")
        );
    }

    /// Stops it (fast shutdown: connections are cut).
    pub fn stop(&self) {
        let _ = self
            .as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    /// Starts it again after [`Self::stop`].
    pub fn restart(&self) {
        self.start_server();
    }

    /// A database URL on it.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A tenant made through the api for edge tests and benches: owner token, id and a site key.
pub struct SiteTenant {
    /// The owner's access token.
    pub access: String,
    /// `tnt_…`.
    pub tenant_id: String,
    /// `site_…`.
    pub site_key: String,
}

/// Signs up a tenant on `api`, allows `origins` in its widget settings and creates a site key.
pub async fn tenant_with_site(api: &str, email: &str, origins: &[&str]) -> SiteTenant {
    let http = reqwest::Client::new();
    let signup: serde_json::Value = http
        .post(format!("{api}/api/v1/auth/signup"))
        .json(&serde_json::json!({ "company_name": "Edge Shop 边缘商店", "email": email, "password": "an edge test password" }))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let access = signup["access_token"].as_str().expect("token").to_owned();
    let tenant_id = signup["tenant"]["id"].as_str().expect("tenant").to_owned();
    set_origins(api, &access, origins).await;
    let created: serde_json::Value = http
        .post(format!("{api}/api/v1/site-keys"))
        .bearer_auth(&access)
        .json(&serde_json::json!({ "label": "shop" }))
        .send()
        .await
        .expect("site key")
        .json()
        .await
        .expect("json");
    SiteTenant { access, tenant_id, site_key: created["site_key"].as_str().expect("key").to_owned() }
}

/// Replaces the widget's allowed origins.
pub async fn set_origins(api: &str, access: &str, origins: &[&str]) {
    let http = reqwest::Client::new();
    let widget: serde_json::Value = http
        .get(format!("{api}/api/v1/widget"))
        .bearer_auth(access)
        .send()
        .await
        .expect("widget")
        .json()
        .await
        .expect("json");
    let mut settings = widget["settings"].clone();
    settings["allowed_origins"] = serde_json::json!(origins);
    let saved = http
        .put(format!("{api}/api/v1/widget"))
        .bearer_auth(access)
        .json(&serde_json::json!({ "settings": settings }))
        .send()
        .await
        .expect("save");
    assert!(saved.status().is_success(), "saving the widget failed: {}", saved.status());
}

/// Signs up a tenant through `base`'s api; returns the owner's access token and the tenant id.
pub async fn signup_owner(base: &str, company: &str, email: &str) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&serde_json::json!({ "company_name": company, "email": email, "password": "a multi node password" }))
        .send()
        .await
        .expect("signup");
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.expect("json");
    (
        body["access_token"].as_str().expect("token").to_owned(),
        body["tenant"]["id"].as_str().expect("tenant").to_owned(),
    )
}

/// `ws://…{path}` on the api at `base` (`http://…`).
pub fn ws_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.replacen("http://", "ws://", 1))
}

/// A visitor of `tenant` connected to the api at `base` that said hello (resuming after
/// `last_seq`) and read its welcome.
pub async fn visitor_on(
    base: &str,
    tenant: &str,
    visitor: kefu_protocol::VisitorId,
    last_seq: i64,
) -> kefu_api::testing::WsClient {
    let url = ws_url(base, &format!("/ws/visitor?token={}", visitor_token(tenant, visitor)));
    // Standing in for the edge (its proof is ignored by a node without an edge secret).
    let proof = (kefu_protocol::ws::EDGE_PROOF_HEADER, EDGE_SECRET);
    let mut client = kefu_api::testing::WsClient::connect_with_headers(&url, &[proof]).await.expect("upgrade");
    client.send(serde_json::json!({ "type": "hello", "protocol": 1, "last_seq": last_seq })).await;
    client.next_of("welcome").await;
    client
}

/// Receives messages until `seq` arrives (within a minute; heartbeats do not count); returns
/// all message seqs seen, in arrival order.
pub async fn messages_until(client: &mut kefu_api::testing::WsClient, seq: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while seen.last() != Some(&seq) {
            let frame = client.next().await.expect("session alive");
            if frame["type"] == "message" {
                seen.push(frame["seq"].as_i64().expect("seq"));
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "message {seq} did not arrive within a minute; seen {seen:?}");
    seen
}

/// An agent connected to the api at `base` with `token`, past its welcome, following the inbox.
pub async fn inbox_agent_on(base: &str, token: &str) -> kefu_api::testing::WsClient {
    let url = ws_url(base, &format!("/ws/agent?token={token}"));
    let mut agent = kefu_api::testing::WsClient::connect(&url).await.expect("agent upgrade");
    agent.send(serde_json::json!({ "type": "hello", "protocol": 1 })).await;
    agent.next_of("welcome").await;
    agent.send(serde_json::json!({ "type": "subscribe_inbox" })).await;
    agent
}

/// The numbered message `n`: client id `c{n}`, body `message {n}`.
fn numbered(n: i64) -> serde_json::Value {
    serde_json::json!({ "type": "send", "client_id": format!("c{n}"), "body": format!("message {n}") })
}

/// Sends the numbered messages of `range` one by one, each acknowledged before the next.
pub async fn send_numbered(visitor: &mut kefu_api::testing::WsClient, range: std::ops::RangeInclusive<i64>) {
    for n in range {
        visitor.send(numbered(n)).await;
        assert_eq!(visitor.next_of("ack").await["client_id"], format!("c{n}"), "message {n} acknowledged");
    }
}

/// Pipelines the numbered messages of `range`, SIGKILLs `node` a moment later, and reads what
/// the visitor got before its socket died: the client ids acknowledged and the highest
/// sequence number seen (at least `last_seen`).
pub async fn pipeline_then_kill(
    visitor: &mut kefu_api::testing::WsClient,
    node: &mut Server,
    range: std::ops::RangeInclusive<i64>,
    last_seen: i64,
) -> (std::collections::BTreeSet<String>, i64) {
    for n in range {
        visitor.send(numbered(n)).await;
    }
    tokio::time::sleep(Duration::from_millis(4)).await;
    node.child.kill().expect("SIGKILL the node");
    let _ = node.child.wait();
    let (mut acked, mut last_seen) = (std::collections::BTreeSet::new(), last_seen);
    while let Ok(frame) = visitor.next().await {
        if frame["type"] == "ack" {
            acked.insert(frame["client_id"].as_str().expect("client id").to_owned());
            last_seen = last_seen.max(frame["seq"].as_i64().expect("seq"));
        }
    }
    (acked, last_seen)
}

/// Sends again, with their original client ids, the numbered messages of `range` that were not
/// `acked`, each acknowledged before the next.
pub async fn resend_unacknowledged(
    visitor: &mut kefu_api::testing::WsClient,
    range: std::ops::RangeInclusive<i64>,
    acked: &std::collections::BTreeSet<String>,
) {
    for n in range {
        let client_id = format!("c{n}");
        if !acked.contains(&client_id) {
            visitor.send(numbered(n)).await;
            assert_eq!(visitor.next_of("ack").await["client_id"], client_id);
        }
    }
}

/// The stored `(seq, client_id)` of a conversation (`conv_…`) of `tenant` (`tnt_…`), in order.
pub async fn transcript(db: &FreshDatabase, tenant: &str, conversation: &str) -> Vec<(i64, String)> {
    let pool = db.pool().await;
    let schema = format!("t_{}", tenant.trim_start_matches("tnt_"));
    let stored = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select seq, client_id from {schema}.messages where conversation_id = $1::uuid order by seq"
    )))
    .bind(conversation.trim_start_matches("conv_"))
    .fetch_all(&pool)
    .await
    .expect("transcript");
    pool.close().await;
    stored
}
