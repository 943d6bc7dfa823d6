//! Application state shared by every handler: cheap-to-clone handles to the pool, Redis,
//! configuration, token keys and limiters.

use std::net::IpAddr;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;

use crate::auth::JwtKeys;
use crate::config::Config;

/// Per-IP limiter for unauthenticated auth endpoints (login, signup, reset, …).
pub type IpLimiter = DefaultKeyedRateLimiter<IpAddr>;
/// Per-account limiter of sign-in attempts (keyed by the lowercased email).
pub type AccountLimiter = DefaultKeyedRateLimiter<String>;

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// Postgres: the control pool and every tenant database's; sessions have an empty
    /// `search_path`.
    pub db: crate::db::Databases,
    /// Redis, when configured.
    pub redis: Option<crate::redis_link::RedisLink>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Token keys.
    pub jwt: Arc<JwtKeys>,
    /// Seals and opens two-factor authenticator secrets.
    pub two_factor: Arc<crate::auth::two_factor::SecretSealer>,
    /// Auth endpoint limiter.
    pub auth_limiter: Arc<IpLimiter>,
    /// Sign-in attempts per account.
    pub login_limiter: Arc<AccountLimiter>,
    /// The proxies whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Wakes the mail worker after a mail is queued.
    pub mail_wakeup: Arc<Notify>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Fan-out of real-time events between connections and nodes.
    pub bus: crate::realtime::bus::Bus,
    /// Builds the bus events of committed changes and ephemeral signals.
    pub fanout: crate::realtime::fanout::Fanout,
    /// The one publish path after commit (the fan-out is its first subscriber).
    pub events: crate::ops::events::Events,
    /// Group commit of chat messages.
    pub store: crate::ops::group_commit::MessageStore,
    /// Agent and visitor presence across nodes (reads).
    pub presence: crate::realtime::presence::Presence,
    /// Presence changes, applied off the sessions' path.
    pub presence_writer: crate::realtime::presence::writer::PresenceWriter,
    /// Writes visitors' page views in batches.
    pub page_views: crate::ops::page_views::PageViews,
    /// Cancelled when the node shuts down: WebSocket sessions close with `going_away`.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Cancelled at the shutdown signal, `http.shutdown_delay_secs` before `shutdown`: `/readyz`
    /// answers 503 so load balancers stop sending traffic here while the node still serves.
    pub draining: tokio_util::sync::CancellationToken,
    /// Where attachment bytes live.
    pub attachments: crate::attachments::AttachmentStore,
    /// Wakes the assignment engine.
    pub router: crate::routing::Router,
    /// The visitor connections of this node by tenant, told their queue place as it moves.
    pub waiting: crate::realtime::waiting::Waiting,
    /// The FAQ bot.
    pub bot: crate::bot::Bot,
    /// The routing rules' task (its cache is forgotten when rules are saved here).
    pub rules: crate::rules::Rules,
    /// Which tenants have automatic replies on, as this node knows (forgotten on a save here).
    pub replies_on: Arc<crate::hours::auto_reply::RepliesOn>,
    /// Asks this node's analytics task to finish a tenant's refresh in the background.
    pub analytics: crate::analytics::AnalyticsHandle,
    /// Wakes this node's background export worker.
    pub export_jobs: crate::archive::jobs::ExportJobs,
    /// Request budgets shared by every node through Redis.
    pub limits: crate::limits::SharedLimits,
    /// This node's socket counts under the caps.
    pub socket_caps: Arc<crate::realtime::caps::SocketCaps>,
    /// Stripe, when this server sells plans (`billing.stripe_secret_key`).
    pub stripe: Option<crate::billing::payments::Stripe>,
    /// Wakes this node's webhook dispatcher and knows which tenants have endpoints.
    pub webhooks: crate::webhooks::Webhooks,
}

impl AppState {
    /// Builds state from a validated configuration and open connections.
    pub fn new(
        config: Config,
        db: crate::db::Databases,
        redis: Option<crate::redis_link::RedisLink>,
        bus: crate::realtime::bus::Bus,
        shutdown: tokio_util::sync::CancellationToken,
        metrics: PrometheusHandle,
    ) -> anyhow::Result<Self> {
        let members = config.signing_keys().map_err(anyhow::Error::msg)?;
        let visitors = config.visitor_keys().map_err(anyhow::Error::msg)?;
        let jwt = Arc::new(JwtKeys::new(&members, &visitors, config.auth.access_ttl_secs)?);
        let two_factor = Arc::new(crate::auth::two_factor::SecretSealer::new(
            &config.two_factor_keys().map_err(anyhow::Error::msg)?,
        )?);
        let per_minute = std::num::NonZeroU32::new(config.auth.auth_rate_per_minute)
            .ok_or_else(|| anyhow::anyhow!("auth_rate_per_minute must be positive"))?;
        let presence = match &redis {
            Some(redis) => crate::realtime::presence::Presence::redis(redis.clone()),
            None => crate::realtime::presence::Presence::local(),
        };
        let attachments = crate::attachments::AttachmentStore::open(&config.attachments)?;
        let fanout = crate::realtime::fanout::Fanout::new(bus.clone());
        let (router, engine) = crate::routing::Router::new();
        let (bot_subscriber, bot_wake) = crate::bot::BotHandle::new();
        let (auto_replies, auto_reply_jobs, replies_on) = crate::hours::auto_reply::AutoReplyHandle::new();
        let (reply_mail, reply_mail_jobs) = crate::reply_mail::ReplyMailHandle::new();
        let (rules_subscriber, rules_jobs) = crate::rules::RulesHandle::new();
        let (indexer_subscriber, indexer) = crate::search::Indexer::new();
        let (analytics_subscriber, analytics_changes) = crate::analytics::handle();
        let (quota_counter, opened) = crate::billing::quotas::QuotaCounter::new();
        let (webhooks, dispatcher) = crate::webhooks::Dispatcher::new();
        let events = crate::ops::events::Events::new(vec![
            std::sync::Arc::new(fanout.clone()),
            std::sync::Arc::new(router.clone()),
            std::sync::Arc::new(bot_subscriber),
            std::sync::Arc::new(auto_replies),
            std::sync::Arc::new(reply_mail),
            std::sync::Arc::new(rules_subscriber),
            std::sync::Arc::new(indexer_subscriber),
            std::sync::Arc::new(analytics_subscriber.clone()),
            std::sync::Arc::new(quota_counter),
            std::sync::Arc::new(webhooks.clone()),
        ]);
        dispatcher.start(db.clone(), config.webhooks.clone(), shutdown.clone())?;
        crate::billing::quotas::start(opened, db.clone(), redis.clone(), shutdown.clone());
        crate::analytics::start(
            db.clone(),
            analytics_changes,
            std::time::Duration::from_secs(config.analytics.refresh_secs),
            shutdown.clone(),
        );
        indexer.start(db.clone(), std::time::Duration::from_secs(config.search.sweep_secs), shutdown.clone());
        engine.start(db.clone(), presence.clone(), events.clone(), shutdown.clone());
        let embeddings = crate::bot::embeddings::Embeddings::from_config(&config.bot);
        let bot = crate::bot::Bot::start(bot_wake, db.clone(), events.clone(), embeddings, shutdown.clone());
        crate::hours::auto_reply::start(
            auto_reply_jobs,
            db.clone(),
            presence.clone(),
            events.clone(),
            shutdown.clone(),
        );
        let rules =
            crate::rules::Rules::start(rules_jobs, db.clone(), events.clone(), router.clone(), shutdown.clone());
        crate::hours::auto_close::start(
            db.clone(),
            events.clone(),
            std::time::Duration::from_secs(config.realtime.auto_close_round_secs),
            shutdown.clone(),
        );
        let mail_wakeup = Arc::new(Notify::new());
        crate::analytics::reports::start(
            db.clone(),
            config.app_url().to_owned(),
            std::time::Duration::from_secs(config.analytics.reports_round_secs),
            mail_wakeup.clone(),
            shutdown.clone(),
        );
        crate::reply_mail::start(
            reply_mail_jobs,
            db.clone(),
            crate::reply_mail::Linker {
                keys: jwt.clone(),
                edge_url: config.edge.public_url.clone(),
                region: config.region.clone(),
            },
            std::time::Duration::from_secs(config.mail.reply_delay_secs),
            mail_wakeup.clone(),
            shutdown.clone(),
        );
        let store = crate::ops::group_commit::MessageStore::start(db.clone(), config.realtime.group_commit());
        let page_views = crate::ops::page_views::PageViews::start(db.clone(), events.clone());
        let presence_writer =
            crate::realtime::presence::writer::PresenceWriter::start(presence.clone(), fanout.clone(), router.clone());
        let waiting =
            crate::realtime::waiting::Waiting::new(db.clone(), presence.clone(), bus.clone(), shutdown.clone());
        let auth_limiter = Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)));
        let per_account = std::num::NonZeroU32::new(config.auth.login_rate_per_account_per_minute)
            .ok_or_else(|| anyhow::anyhow!("login_rate_per_account_per_minute must be positive"))?;
        let login_limiter = Arc::new(RateLimiter::keyed(Quota::per_minute(per_account)));
        let limits = crate::limits::SharedLimits::new(redis.clone());
        forget_idle_keys(auth_limiter.clone(), login_limiter.clone(), limits.clone(), shutdown.clone());
        let export_jobs = crate::archive::jobs::ExportJobs::start(
            db.clone(),
            attachments.clone(),
            std::time::Duration::from_secs(config.archive.export_round_secs),
            std::time::Duration::from_secs(config.archive.export_lease_secs),
            shutdown.clone(),
        );
        crate::archive::retention::start(
            db.clone(),
            attachments.clone(),
            std::time::Duration::from_secs(config.archive.retention_round_secs),
            shutdown.clone(),
        );
        crate::billing::lifecycle::start(
            db.clone(),
            std::time::Duration::from_secs(config.billing.trial_round_secs),
            shutdown.clone(),
        );
        let stripe = crate::billing::payments::Stripe::from_config(&config.billing)?;
        if let Some(stripe) = &stripe {
            crate::billing::payments::jobs::start(
                stripe.clone(),
                db.clone(),
                std::time::Duration::from_secs(config.billing.trial_round_secs),
                shutdown.clone(),
            );
        }
        Ok(Self {
            stripe,
            webhooks,
            limits,
            socket_caps: crate::realtime::caps::SocketCaps::new(config.realtime.socket_caps()),
            export_jobs,
            bot,
            rules,
            replies_on,
            analytics: analytics_subscriber,
            router,
            waiting,
            attachments,
            presence,
            presence_writer,
            page_views,
            fanout,
            events,
            store,
            db,
            redis,
            jwt,
            two_factor,
            auth_limiter,
            login_limiter,
            trusted_proxies: Arc::new(config.http.proxies()),
            mail_wakeup,
            metrics,
            bus,
            shutdown,
            draining: tokio_util::sync::CancellationToken::new(),
            config: Arc::new(config),
        })
    }
}

/// Every minute, drops the limiters' keys that are back to a full allowance, so memory is bounded
/// by the keys active in the last minute, not by every address or email ever seen.
fn forget_idle_keys(
    ips: Arc<IpLimiter>,
    accounts: Arc<AccountLimiter>,
    shared: crate::limits::SharedLimits,
    shutdown: tokio_util::sync::CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            }
            ips.retain_recent();
            ips.shrink_to_fit();
            accounts.retain_recent();
            accounts.shrink_to_fit();
            shared.forget_idle_keys();
        }
    });
}
