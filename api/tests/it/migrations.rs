//! `migrate_all`: every tenant schema brought up to date, idempotently, and a failed tenant does
//! not stop the others or leave a half-migrated schema.

use std::sync::atomic::{AtomicU64, Ordering};

use kefu_api::tenancy::latest_tenant_version;
use kefu_api::tenancy::migrate::{Progress, create_unmigrated_tenants, migrate_all};
use kefu_api::testing::{TestApp, unique};

#[derive(Default)]
struct Count {
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress for Count {
    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn advance(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

async fn version_of(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar(
        "select coalesce(s.version, 0) from control.tenants t
         left join kefu.tenant_schemas s on s.tenant_id = t.id where t.slug = $1",
    )
    .bind(slug)
    .fetch_one(app.db())
    .await
    .expect("tenant")
}

#[tokio::test]
async fn unmigrated_tenants_are_brought_up_to_date_and_a_rerun_is_a_no_op() {
    let app = TestApp::spawn().await;
    let prefix = unique("mig-");
    create_unmigrated_tenants(app.databases(), &kefu_api::db::DatabaseId::main(), 12, &prefix).await.expect("create");
    assert_eq!(version_of(&app, &format!("{prefix}-0")).await, 0);

    let progress = Count::default();
    let summary = migrate_all(app.databases(), 4, &progress).await.expect("migrate");
    // Other tests run concurrently on the same database (one sabotages a tenant of its own), so
    // only this test's tenants are asserted on.
    let ours: Vec<String> =
        sqlx::query_scalar("select 'tnt_' || replace(id::text, '-', '') from control.tenants where slug like $1")
            .bind(format!("{prefix}-%"))
            .fetch_all(app.db())
            .await
            .expect("ids");
    assert_eq!(ours.len(), 12);
    assert!(!summary.failed.iter().any(|(id, _)| ours.contains(&id.to_string())), "{:?}", summary.failed);
    assert_eq!(progress.done.load(Ordering::Relaxed), progress.total.load(Ordering::Relaxed));
    for i in 0..12 {
        assert_eq!(version_of(&app, &format!("{prefix}-{i}")).await, latest_tenant_version());
    }
    let schema: String = sqlx::query_scalar("select schema_name from control.tenants where slug = $1")
        .bind(format!("{prefix}-3"))
        .fetch_one(app.db())
        .await
        .expect("schema");
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = $1 order by table_name",
    )
    .bind(&schema)
    .fetch_all(app.db())
    .await
    .expect("tables");
    for table in ["agents", "audit_log", "conversations", "messages", "visitors"] {
        assert!(tables.iter().any(|t| t == table), "{table} missing from {tables:?}");
    }
    assert!(!tables.iter().any(|t| t.contains("migrations")), "no bookkeeping table inside tenant schemas: {tables:?}");

    // None of ours are behind any more (other tests may add tenants concurrently).
    let again = migrate_all(app.databases(), 4, &Count::default()).await.expect("rerun");
    assert!(!again.failed.iter().any(|(id, _)| ours.contains(&id.to_string())));
    let ours_behind: i64 = sqlx::query_scalar(
        "select count(*) from control.tenants t left join kefu.tenant_schemas s on s.tenant_id = t.id
             where t.slug like $1 and coalesce(s.version, 0) < $2",
    )
    .bind(format!("{prefix}-%"))
    .bind(latest_tenant_version())
    .fetch_one(app.db())
    .await
    .expect("count");
    assert_eq!(ours_behind, 0);
}

#[tokio::test]
async fn a_broken_tenant_is_reported_rolled_back_and_others_still_migrate() {
    let app = TestApp::spawn().await;
    let prefix = unique("brk-");
    create_unmigrated_tenants(app.databases(), &kefu_api::db::DatabaseId::main(), 3, &prefix).await.expect("create");
    // Sabotage one schema: a table the first migration wants to create already exists.
    let broken: String = sqlx::query_scalar("select schema_name from control.tenants where slug = $1")
        .bind(format!("{prefix}-1"))
        .fetch_one(app.db())
        .await
        .expect("schema");
    sqlx::query(sqlx::AssertSqlSafe(format!("create table {broken}.agents (x int)")))
        .execute(app.db())
        .await
        .expect("sabotage");

    let summary = migrate_all(app.databases(), 2, &Count::default()).await.expect("migrate");
    let broken_id = format!("tnt_{}", broken.trim_start_matches("t_"));
    assert!(summary.failed.iter().any(|(id, _)| id.to_string() == broken_id), "{:?}", summary.failed);
    assert_eq!(version_of(&app, &format!("{prefix}-0")).await, latest_tenant_version());
    assert_eq!(version_of(&app, &format!("{prefix}-2")).await, latest_tenant_version());
    assert_eq!(version_of(&app, &format!("{prefix}-1")).await, 0);
    // Rolled back: no bookkeeping table, no half-created tables.
    let leftovers: i64 = sqlx::query_scalar("select count(*) from information_schema.tables where table_schema = $1")
        .bind(&broken)
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(leftovers, 1, "only the sabotage table remains");
    // Mark it deleting so later runs by other tests skip it.
    sqlx::query("update control.tenants set status = 'deleting' where schema_name = $1")
        .bind(&broken)
        .execute(app.db())
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn an_edited_or_unknown_tenant_migration_stops_the_run_before_any_tenant() {
    let app = TestApp::spawn().await;
    // Tamper inside a transaction that is rolled back, so the shared database is untouched.
    let mut tx = app.db().begin().await.expect("begin");
    kefu_api::tenancy::record_tenant_migration_set(&mut tx).await.expect("recorded set is consistent");
    sqlx::query("update control.tenant_migrations set checksum = '\\x00' where version = $1")
        .bind(latest_tenant_version())
        .execute(&mut *tx)
        .await
        .expect("tamper");
    let error = kefu_api::tenancy::record_tenant_migration_set(&mut tx).await.expect_err("edited migration");
    assert!(error.to_string().contains("was changed after it was applied"), "{error}");
    tx.rollback().await.expect("rollback");

    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query("insert into control.tenant_migrations (version, description, checksum) values (99999999999999, 'from the future', '\\x01')")
        .execute(&mut *tx)
        .await
        .expect("insert");
    let error = kefu_api::tenancy::record_tenant_migration_set(&mut tx).await.expect_err("unknown migration");
    assert!(error.to_string().contains("missing from this binary"), "{error}");
    tx.rollback().await.expect("rollback");
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query("update kefu.tenant_schemas set version = $2 where tenant_id = $1")
        .bind(schema.tenant_id().as_uuid())
        .bind(latest_tenant_version() + 1)
        .execute(&mut *tx)
        .await
        .expect("bump");
    let error = kefu_api::tenancy::migrate_tenant_schema(&mut tx, &schema).await.expect_err("newer");
    assert!(error.to_string().contains("newer than this binary"), "{error}");
    tx.rollback().await.expect("rollback");
    // An up-to-date schema is a no-op.
    let mut tx = app.db().begin().await.expect("begin");
    assert_eq!(kefu_api::tenancy::migrate_tenant_schema(&mut tx, &schema).await.expect("no-op"), 0);
    tx.rollback().await.expect("rollback");
}
