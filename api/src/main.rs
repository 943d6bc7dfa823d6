//! The `kefu` binary: parses the command line, loads configuration, starts logging, and calls
//! into the library. No product logic lives here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kefu_api::tenancy::migrate::{self, Progress};
use kefu_api::{Config, config::LogFormat, telemetry};

#[derive(Parser)]
#[command(name = "kefu", version, about = "Kefu live-chat api server")]
struct Cli {
    /// Optional TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "KEFU_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve {
        /// Migrate the control plane and every tenant schema before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Bring the control plane and every tenant schema up to date.
    Migrate {
        /// Tenant schemas migrated at once (default: migrate.concurrency).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Tenant databases: where tenants are placed (docs/tenancy.md).
    Databases {
        #[command(subcommand)]
        action: DatabasesAction,
    },
    /// Tenants: where one lives, and moving it to another tenant database.
    Tenants {
        #[command(subcommand)]
        action: TenantsAction,
    },
    /// Plans: list them, change their numbers and features (docs/billing.md).
    Plans {
        #[command(subcommand)]
        action: PlansAction,
    },
    /// Create the demo tenant `demo` with an owner login if it does not exist, and print the login.
    SeedDemo,
    /// Print the FAQ bot's precision, recall and hand-off rate on the labelled evaluation set
    /// (api/bot-eval/), for the lexical matcher and, with bot.embeddings_url, the semantic one.
    BotEval {
        /// Answer at or above this score.
        #[arg(long, default_value_t = 0.7)]
        threshold: f32,
        /// Another knowledge base (JSON, as api/bot-eval/kb.json).
        #[arg(long, requires = "questions")]
        kb: Option<PathBuf>,
        /// Other labelled questions (JSON, as api/bot-eval/questions.json).
        #[arg(long, requires = "kb")]
        questions: Option<PathBuf>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Print the TypeScript declarations of the wire types (api/protocol/ts/kefu-protocol.ts).
    Typescript,
    /// Benchmark support: create N tenants with empty, unmigrated schemas.
    #[command(hide = true)]
    CreateUnmigratedTenants {
        /// How many.
        count: u64,
        /// The tenant database to create them in.
        #[arg(long, default_value = "main")]
        database: String,
        /// Slug prefix.
        #[arg(long, default_value = "bench")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum DatabasesAction {
    /// List the tenant databases with their tenant counts.
    List,
    /// Register a tenant database (after checking and preparing it) for new tenants.
    Add {
        /// Its id: 1-40 of a-z, 0-9, `_` and `-`.
        id: String,
        /// Its Postgres URL (the password may be left to ~/.pgpass).
        #[arg(long)]
        url: String,
        /// The region whose nodes serve it (default: this configuration's region).
        #[arg(long)]
        region: Option<String>,
        /// Most tenants the placement policy puts there.
        #[arg(long, default_value_t = 2000)]
        capacity: i32,
    },
    /// Change a tenant database's capacity or whether it takes new tenants.
    Set {
        /// Its id.
        id: String,
        /// Most tenants the placement policy puts there.
        #[arg(long)]
        capacity: Option<i32>,
        /// Whether the placement policy may choose it.
        #[arg(long)]
        accepting: Option<bool>,
    },
}

#[derive(Subcommand)]
enum PlansAction {
    /// List the plans with their limits and features.
    List,
    /// Change a plan: `kefu plans set pro seats=60 features=bot,api,regions,analytics_export`.
    Set {
        /// The plan's id.
        id: String,
        /// `field=value` pairs: name, position, public, seats, conversations_per_month,
        /// attachment_storage_mb, attachment_max_mb, kb_entries, max_retention_days (or `none`),
        /// export_conversations, api_requests_per_minute, trial_days, price_per_seat_cents,
        /// currency, stripe_price_id, features (comma-separated: bot, api, regions,
        /// analytics_export).
        #[arg(required = true)]
        changes: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TenantsAction {
    /// Show where a tenant lives.
    Show {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
    },
    /// Move a tenant to another tenant database while it is in use (docs/tenancy.md).
    Move {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
        /// The tenant database to move it to.
        #[arg(long, required_unless_present = "abandon")]
        to: Option<String>,
        /// Abandon an interrupted move of the tenant instead (it stays where it is).
        #[arg(long, conflicts_with = "to")]
        abandon: bool,
    },
    /// Put a tenant on a plan (a trial in course ends; what the plan lacks is turned off).
    Plan {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
        /// The plan's id.
        plan: String,
    },
    /// Write a tenant's workspace archive (the owner's export, docs/export.md) to a local file,
    /// from one snapshot: the per-workspace backup a restore takes (docs/backups.md).
    Export {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
        /// The file to create (it must not exist).
        #[arg(long = "to", value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace a tenant's data with its workspace archive's, in one transaction, leaving the other
    /// tenants alone (docs/backups.md, "Restoring one workspace").
    Restore {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
        /// The workspace archive (`kefu-workspace-….tar`, downloaded from an export job).
        #[arg(long = "from", value_name = "ARCHIVE")]
        archive: PathBuf,
        /// Check that the archive restores, then roll back: nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
    /// Rebuild a tenant's search index from its messages (docs/search.md).
    Reindex {
        /// The tenant's slug or id (`tnt_…`).
        tenant: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Typescript) = cli.command {
        print!("{}", kefu_protocol::typescript::declarations());
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(Command::Openapi) = cli.command {
        return match kefu_api::http::openapi_json() {
            Ok(json) => {
                println!("{json}");
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let load = if matches!(cli.command, Some(Command::BotEval { .. })) { Config::load_unchecked } else { Config::load };
    let config = match load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("kefu: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("kefu: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve { migrate: false }), config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kefu: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    let log_format = match command {
        Command::Serve { .. } => config.effective_log_format(),
        _ => LogFormat::Pretty,
    };
    telemetry::init_tracing(log_format);
    match command {
        Command::Serve { migrate } => serve(config, migrate).await,
        Command::Migrate { concurrency } => {
            run_migrate(&config, concurrency.unwrap_or(config.migrate.concurrency)).await
        }
        Command::SeedDemo => {
            let state = kefu_api::build_state(config).await?;
            let login = kefu_api::demo::seed_demo(&state).await?;
            println!("{login}");
            Ok(())
        }
        Command::CreateUnmigratedTenants { count, database, prefix } => {
            let databases = migration_databases(&config, 2)?;
            migrate::create_unmigrated_tenants(&databases, &database.parse()?, count, &prefix).await
        }
        Command::Databases { action } => databases_command(&config, action).await,
        Command::Tenants { action } => tenants_command(&config, action).await,
        Command::Plans { action } => plans_command(&config, action).await,
        Command::BotEval { threshold, kb, questions } => bot_eval(&config, threshold, kb, questions).await,
        Command::Openapi | Command::Typescript => Ok(()),
    }
}

/// `kefu bot-eval`.
async fn bot_eval(
    config: &Config,
    threshold: f32,
    kb: Option<PathBuf>,
    questions: Option<PathBuf>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use kefu_api::bot::eval::{EvalSet, report};
    anyhow::ensure!((0.0..=1.0).contains(&threshold), "--threshold is between 0 and 1");
    let set = match (kb, questions) {
        (Some(kb), Some(questions)) => EvalSet::parse(
            &std::fs::read_to_string(&kb).with_context(|| format!("reading {}", kb.display()))?,
            &std::fs::read_to_string(&questions).with_context(|| format!("reading {}", questions.display()))?,
        )?,
        _ => EvalSet::shipped()?,
    };
    let embeddings = kefu_api::bot::embeddings::Embeddings::from_config(&config.bot);
    print!("{}", report(&set, threshold, embeddings.as_ref()).await?);
    Ok(())
}

/// Pools for maintenance: `concurrency` + 1 connections per database, never recycled (the
/// migration workers replace their own).
fn migration_databases(config: &Config, concurrency: usize) -> anyhow::Result<kefu_api::db::Databases> {
    use kefu_api::db::databases::PoolSettings;
    let connections = u32::try_from(concurrency + 1)?;
    let timeout = Duration::from_secs(30);
    let control = kefu_api::db::connect_recycling(config.database_url(), connections, timeout, 0)?;
    let settings = PoolSettings {
        max_connections: connections,
        acquire_timeout: timeout,
        recycle_after_uses: 0,
        transport: config.database_policy(),
    };
    Ok(kefu_api::db::Databases::new(control, settings))
}

async fn databases_command(config: &Config, action: DatabasesAction) -> anyhow::Result<()> {
    use kefu_api::db::{self, DatabaseId};
    let databases = migration_databases(config, 1)?;
    match action {
        DatabasesAction::List => {
            let mut conn = databases.control().acquire().await?;
            println!(
                "{:<20} {:<12} {:>9} {:>9} {:<9} {:<34} url",
                "id", "region", "tenants", "capacity", "accepting", "transport"
            );
            for d in db::databases::list(&mut conn).await? {
                let region = d.region.clone().unwrap_or_else(|| config.region.clone());
                // How this node reaches it (docs/security.md, "Encryption in transit").
                let transport = match kefu_api::transport::postgres(d.url.as_deref().unwrap_or(config.database_url())) {
                    Ok(endpoint) => match endpoint.transport {
                        kefu_api::transport::Transport::Local => format!("{} (local)", endpoint.mode),
                        kefu_api::transport::Transport::Verified => endpoint.mode,
                        kefu_api::transport::Transport::Unverified => format!("{} (unverified)", endpoint.mode),
                    },
                    Err(_) => "unparsable URL".to_owned(),
                };
                println!(
                    "{:<20} {:<12} {:>9} {:>9} {:<9} {:<34} {}",
                    d.id,
                    region,
                    d.tenants,
                    d.capacity,
                    if d.accepting { "yes" } else { "no" },
                    transport,
                    d.redacted_url()
                );
            }
        }
        DatabasesAction::Add { id, url, region, capacity } => {
            let id: DatabaseId = id.parse()?;
            let region = region.unwrap_or_else(|| config.region.clone());
            kefu_api::tenancy::database::register(&databases, &id, &url, &region, capacity).await?;
            println!("tenant database `{id}` registered in region `{region}` with capacity {capacity}");
        }
        DatabasesAction::Set { id, capacity, accepting } => {
            let id: DatabaseId = id.parse()?;
            anyhow::ensure!(
                capacity.is_some() || accepting.is_some(),
                "nothing to change: give --capacity or --accepting"
            );
            anyhow::ensure!(capacity.is_none_or(|c| c >= 0), "the capacity must not be negative");
            let mut conn = databases.control().acquire().await?;
            anyhow::ensure!(
                db::databases::update(&mut conn, &id, capacity, accepting).await?,
                "no tenant database `{id}`"
            );
            println!("tenant database `{id}` updated");
        }
    }
    Ok(())
}

async fn plans_command(config: &Config, action: PlansAction) -> anyhow::Result<()> {
    use kefu_api::db::plans;
    let databases = migration_databases(config, 1)?;
    let mut conn = databases.control().acquire().await?;
    match action {
        PlansAction::List => {
            println!(
                "{:<10} {:<10} {:>6} {:>9} {:>9} {:>6} {:>9} {:>7} {:>6}  features",
                "id", "name", "seats", "conv/mo", "store MiB", "kb", "retention", "api/min", "trial"
            );
            for p in plans::list(&mut conn).await? {
                println!(
                    "{:<10} {:<10} {:>6} {:>9} {:>9} {:>6} {:>9} {:>7} {:>6}  {}{}",
                    p.id,
                    p.name,
                    p.seats,
                    p.conversations_per_month,
                    p.attachment_storage_mb,
                    p.kb_entries,
                    p.max_retention_days.map_or_else(|| "none".to_owned(), |d| format!("{d}d")),
                    p.api_requests_per_minute,
                    p.trial_days,
                    p.features.join(","),
                    if p.public { "" } else { " (not offered)" }
                );
            }
        }
        PlansAction::Set { id, changes } => {
            let changes = changes.iter().map(|c| plans::Change::parse(c)).collect::<Result<Vec<_>, _>>();
            let changes = changes.map_err(anyhow::Error::msg)?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for change in &changes {
                anyhow::ensure!(plans::change(&mut tx, &id, change).await?, "no plan `{id}`");
            }
            tx.commit().await?;
            println!("plan `{id}` changed; every node applies it on its next check");
            // Features turned off and the month's quota decided again at once, not at each
            // workspace's next conversation.
            let reaches_workspaces = changes
                .iter()
                .any(|c| matches!(c, plans::Change::Features(_) | plans::Change::Number("conversations_per_month", _)));
            if reaches_workspaces {
                drop(conn);
                let visited = kefu_api::billing::lifecycle::plan_edited(&databases, &id).await?;
                println!(
                    "{visited} workspace(s) on `{id}` updated (features it lacks turned off, this month's quota decided again)"
                );
            }
        }
    }
    Ok(())
}

async fn tenants_command(config: &Config, action: TenantsAction) -> anyhow::Result<()> {
    use kefu_api::db;
    let databases = migration_databases(config, 1)?;
    let find = |tenant: String| {
        let databases = databases.clone();
        async move {
            let mut conn = databases.control().acquire().await?;
            let found = match tenant.parse::<kefu_protocol::TenantId>() {
                Ok(id) => db::tenants::find_by_id(&mut conn, id).await?,
                Err(_) => db::tenants::find_by_slug(&mut conn, &tenant).await?,
            };
            found.ok_or_else(|| anyhow::anyhow!("no tenant `{tenant}`"))
        }
    };
    match action {
        TenantsAction::Show { tenant } => {
            let found = find(tenant).await?;
            println!(
                "tenant {} (`{}`, {}): database `{}`, schema {}, status {}",
                found.access.id,
                found.access.slug,
                found.name,
                found.access.schema.database(),
                found.access.schema.name(),
                found.access.status
            );
        }
        TenantsAction::Move { tenant, abandon: true, .. } => {
            let found = find(tenant).await?;
            if kefu_api::tenancy::moves::abandon_move(&databases, found.access.id).await? {
                println!(
                    "abandoned the move of `{}`; it stays in `{}`",
                    found.access.slug,
                    found.access.schema.database()
                );
            } else {
                println!("no move of `{}` is recorded", found.access.slug);
            }
        }
        TenantsAction::Plan { tenant, plan } => {
            let found = find(tenant).await?;
            let from =
                kefu_api::billing::lifecycle::switch(&databases, &found.access.schema, &plan, "operator").await?;
            println!("`{}` moved from plan `{from}` to `{plan}`", found.access.slug);
        }
        TenantsAction::Reindex { tenant } => {
            let found = find(tenant).await?;
            let started = Instant::now();
            let messages: u64 = reindex_size(&databases, found.access.id).await?;
            let bar = ProgressBar::new(messages);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} messages {pos}/{len} [{bar:40}] {per_sec} eta {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            if !std::io::stderr().is_terminal() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let indexed =
                kefu_api::search::indexer::reindex(&databases, found.access.id, &|batch| bar.inc(batch)).await?;
            bar.finish_and_clear();
            println!(
                "re-indexed tenant `{}`: {indexed} messages in {:.1} s",
                found.access.slug,
                started.elapsed().as_secs_f64()
            );
        }
        TenantsAction::Export { tenant, file } => {
            let found = find(tenant).await?;
            let store = kefu_api::attachments::AttachmentStore::open(&config.attachments)?;
            let started = Instant::now();
            let bytes =
                kefu_api::archive::tenant_export::write_file(&databases, &store, &found.access.schema, &file).await?;
            println!(
                "wrote the archive of `{}` to {}: {bytes} bytes in {:.1} s",
                found.access.slug,
                file.display(),
                started.elapsed().as_secs_f64()
            );
        }
        TenantsAction::Restore { tenant, archive, dry_run } => {
            let found = find(tenant).await?;
            let store = kefu_api::attachments::AttachmentStore::open(&config.attachments)?;
            let options = kefu_api::tenancy::restore::RestoreOptions { dry_run };
            struct Steps;
            impl kefu_api::tenancy::restore::RestoreProgress for Steps {
                fn step(&self, what: &str) {
                    eprintln!("restore: {what}");
                }
            }
            let report = kefu_api::tenancy::restore::restore_tenant(
                &databases,
                Some(&store),
                found.access.id,
                &archive,
                options,
                &Steps,
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}; nothing was changed"))?;
            print_restore(&found.access.slug, &report);
        }
        TenantsAction::Move { tenant, to, .. } => {
            let to = to.ok_or_else(|| anyhow::anyhow!("give --to <database>"))?;
            struct Steps;
            impl kefu_api::tenancy::moves::MoveProgress for Steps {
                fn step(&self, what: &str) {
                    eprintln!("move: {what}");
                }
            }
            let found = find(tenant).await?;
            let target: db::DatabaseId = to.parse()?;
            let report = kefu_api::tenancy::moves::move_tenant(&databases, found.access.id, &target, &Steps).await?;
            println!(
                "moved tenant `{}` from `{}` to `{}`: {} rows copied, {} changed rows caught up, writes paused {} ms, {:.1} s in all",
                found.access.slug,
                report.source,
                report.target,
                report.copied_rows,
                report.applied_changes,
                report.paused.as_millis(),
                report.elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// What `kefu tenants restore` did, for the operator.
fn print_restore(slug: &str, report: &kefu_api::tenancy::restore::RestoreReport) {
    let swapped = &report.swapped;
    let verb = if report.committed { "restored" } else { "dry run (rolled back, nothing changed): would restore" };
    println!(
        "{verb} workspace `{slug}` from its archive of {} (schema version {}{}): {} tables, {} rows; writes paused {} ms, {:.1} s in all",
        report.exported_at.to_rfc3339(),
        report.archive_version,
        if report.migrated_forward > 0 {
            format!(", migrated forward by {} migrations", report.migrated_forward)
        } else {
            String::new()
        },
        report.tables,
        report.archive_rows,
        swapped.paused.as_millis(),
        report.elapsed.as_secs_f64()
    );
    println!(
        "  kept: {} audit entries written since the archive, {} webhook outbox and delivery rows",
        swapped.kept_audit_entries, swapped.kept_webhook_rows
    );
    println!(
        "  {} conversations keep sequence numbers above the archive's; {} member profiles activated, {} deactivated; {} visitors erased since the archive erased again",
        swapped.raised_conversations, swapped.profiles_activated, swapped.profiles_deactivated, swapped.erased_again
    );
    if report.committed {
        println!(
            "  files: {} put back into the object store, {} in neither the store nor the archive",
            report.files_put_back, report.files_missing
        );
    }
    let left = &report.not_restored;
    if !left.members.is_empty() || left.site_keys > 0 || left.api_keys > 0 {
        println!(
            "  not restored (control plane): {} former members ({}), {} site keys, {} API keys; invite and create them again",
            left.members.len(),
            left.members.join(", "),
            left.site_keys,
            left.api_keys
        );
    }
}

async fn serve(config: Config, migrate_first: bool) -> anyhow::Result<()> {
    // Only the nodes that sign people in need the two-factor sealing keys (production has no
    // fallback): refuse to start without them before doing anything.
    config.two_factor_keys().map_err(anyhow::Error::msg)?;
    if migrate_first {
        run_migrate(&config, config.migrate.concurrency).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let state = kefu_api::build_state(config).await?;
    tracing::info!(%address, "kefu api listening");
    kefu_api::run(state, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: draining requests");
}

/// A progress bar on a terminal; otherwise a line every 10 % (and at the end).
struct Reporter {
    bar: Option<ProgressBar>,
    total: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
}

impl Progress for Reporter {
    fn start(&self, total: u64) {
        self.total.store(total, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        } else {
            eprintln!("migrating {total} tenant schemas");
        }
    }

    fn advance(&self) {
        use std::sync::atomic::Ordering;
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            return;
        }
        let total = self.total.load(Ordering::Relaxed).max(1);
        let step = (total / 10).max(1);
        if done.is_multiple_of(step) || done == total {
            eprintln!("progress: {done}/{total} tenant schemas");
        }
    }
}

/// How many messages a re-index will go through: those queued now plus every stored one not queued.
async fn reindex_size(databases: &kefu_api::db::Databases, tenant: kefu_protocol::TenantId) -> anyhow::Result<u64> {
    Ok(u64::try_from(kefu_api::search::indexer::message_count(databases, tenant).await?).unwrap_or(0))
}

async fn run_migrate(config: &Config, concurrency: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let databases = migration_databases(config, concurrency)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template("{spinner} tenants {pos}/{len} [{bar:40}] {per_sec} eta {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let reporter = Reporter { bar, total: 0.into(), done: 0.into() };
    let summary = migrate::migrate_all(&databases, concurrency, &reporter).await?;
    if let Some(bar) = &reporter.bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "migrate: control plane up to date; tenants: {} total, {} were behind, {} migrated, {} failed in {elapsed:.1}s (concurrency {concurrency})",
        summary.total_tenants,
        summary.pending,
        summary.migrated,
        summary.failed.len()
    );
    for (database, error) in &summary.failed_databases {
        eprintln!("  tenant database `{database}`: {error}");
    }
    if summary.failed.is_empty() && summary.failed_databases.is_empty() {
        Ok(())
    } else {
        for (tenant, error) in summary.failed.iter().take(20) {
            eprintln!("  {tenant}: {error}");
        }
        anyhow::bail!(
            "{} tenant schemas and {} tenant databases failed to migrate; fix and run `kefu migrate` again",
            summary.failed.len(),
            summary.failed_databases.len()
        )
    }
}
