//! Tenant databases and the pools that reach them (`control.tenant_databases`).
//!
//! A tenant lives in one tenant database, recorded in `control.tenants.database_id` (its
//! placement). [`Databases`] is every node's way to the right one: the control pool, which is also
//! the pool of the tenant database `main` (the control database itself), and one pool per other
//! tenant database, opened on first use and bounded like the control pool. Its tenant pools are
//! private to the `db` module: code outside it reaches a tenant only through a `TenantTx` or a
//! `MessageBatch`, which take the database from the tenant's [`super::TenantSchema`], which comes
//! only from its control row.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{PgConnection, PgPool};

/// A tenant database's id (`control.tenant_databases.id`): 1–40 of `a-z 0-9 _ -`, starting
/// with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatabaseId(Arc<str>);

impl DatabaseId {
    /// The control database, which is also a tenant database.
    pub fn main() -> Self {
        Self(Arc::from(MAIN))
    }

    /// Whether this is the control database.
    pub fn is_main(&self) -> bool {
        &*self.0 == MAIN
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const MAIN: &str = "main";

/// Why a string is not a database id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a database id: use 1-40 of a-z, 0-9, `_` and `-`, starting with a letter or digit")]
pub struct BadDatabaseId(pub String);

impl std::str::FromStr for DatabaseId {
    type Err = BadDatabaseId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = (1..=40).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid { Ok(Self(Arc::from(s))) } else { Err(BadDatabaseId(s.to_owned())) }
    }
}

impl fmt::Display for DatabaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so tables can align it (`kefu databases list`).
        f.pad(&self.0)
    }
}

/// Decodes a stored id, as a column decode error when it is not one.
pub(super) fn decode_id(column: &str, value: &str) -> sqlx::Result<DatabaseId> {
    value
        .parse()
        .map_err(|error: BadDatabaseId| sqlx::Error::ColumnDecode { index: column.to_owned(), source: Box::new(error) })
}

/// How every tenant database pool is sized (`database.*`).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections per tenant database pool.
    pub max_connections: u32,
    /// How long a request waits for a connection.
    pub acquire_timeout: Duration,
    /// Uses after which a connection is replaced, on average (0: never).
    pub recycle_after_uses: u32,
    /// What a tenant database's URL must ask for (`Config::database_policy`).
    pub transport: crate::transport::Policy,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            recycle_after_uses: super::RECYCLE_AFTER_USES,
            transport: crate::transport::Policy::default(),
        }
    }
}

/// The control pool and, opened on first use, one pool per other tenant database. Cheap to
/// clone.
#[derive(Clone)]
pub struct Databases {
    control: PgPool,
    tenant_pools: Arc<Mutex<HashMap<DatabaseId, PgPool>>>,
    settings: PoolSettings,
}

/// Why a tenant database could not be reached.
fn unknown_database(id: &DatabaseId) -> sqlx::Error {
    sqlx::Error::Configuration(format!("tenant database `{id}` is not registered (control.tenant_databases)").into())
}

impl Databases {
    /// The control pool (also the pool of `main`); other pools open with `settings`.
    pub fn new(control: PgPool, settings: PoolSettings) -> Self {
        Self { control, tenant_pools: Arc::default(), settings }
    }

    /// The control database's pool: `control.`-qualified queries, and the tenant database
    /// `main` for `TenantTx` and `MessageBatch`.
    pub fn control(&self) -> &PgPool {
        &self.control
    }

    /// The pool of a tenant database, opened (lazily: no connection yet) on first use from its
    /// registered URL.
    pub(in crate::db) async fn tenant_pool(&self, id: &DatabaseId) -> sqlx::Result<PgPool> {
        if id.is_main() {
            return Ok(self.control.clone());
        }
        if let Some(pool) = self.lock().get(id) {
            return Ok(pool.clone());
        }
        let url: Option<String> = sqlx::query_scalar("select url from control.tenant_databases where id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.control)
            .await?
            .flatten();
        let url = url.ok_or_else(|| unknown_database(id))?;
        if let Some(warning) = self.check_url(id, &url).map_err(|problem| sqlx::Error::Configuration(problem.into()))? {
            tracing::warn!(database = %id, "{warning}");
        }
        let pool = super::connect_recycling(
            &url,
            self.settings.max_connections,
            self.settings.acquire_timeout,
            self.settings.recycle_after_uses,
        )?;
        Ok(self.lock().entry(id.clone()).or_insert(pool).clone())
    }

    /// Whether this node may connect to tenant database `id` at `url`: its TLS files must be
    /// readable here, and in production an unverified connection off the machine is refused
    /// unless `database.allow_insecure_transport` allows it (`Ok(Some(warning))` then). Checked
    /// when the URL is registered and when a node opens its pool.
    pub fn check_url(&self, id: &DatabaseId, url: &str) -> Result<Option<String>, String> {
        let what = format!("tenant database `{id}`");
        let endpoint = crate::transport::postgres(url).map_err(|problem| format!("{what}: its URL {problem}"))?;
        let mut problems = crate::transport::postgres_files(&what, url);
        problems.extend(self.settings.transport.refusal(
            &what,
            "database.allow_insecure_transport (KEFU_DATABASE__ALLOW_INSECURE_TRANSPORT)",
            &endpoint,
        ));
        if problems.is_empty() {
            Ok(self.settings.transport.warning(&what, &endpoint))
        } else {
            Err(problems.join("; "))
        }
    }

    /// The pool of a tenant database, for maintenance that acts on the database as a whole
    /// (`kefu migrate`, resolving in-doubt transactions, moving tenants).
    pub async fn maintenance_pool(&self, id: &DatabaseId) -> sqlx::Result<PgPool> {
        self.tenant_pool(id).await
    }

    /// The tenant database pools opened so far (not `main`).
    pub fn open_pools(&self) -> Vec<(DatabaseId, PgPool)> {
        self.lock().iter().map(|(id, pool)| (id.clone(), pool.clone())).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DatabaseId, PgPool>> {
        self.tenant_pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A registered tenant database, with its tenant count.
#[derive(Debug, Clone)]
pub struct TenantDatabase {
    /// Its id.
    pub id: DatabaseId,
    /// Its URL (`None` for `main`).
    pub url: Option<String>,
    /// Its region (`None` for `main`: the control plane's).
    pub region: Option<String>,
    /// Most tenants the placement policy puts here.
    pub capacity: i32,
    /// Whether the policy may choose it.
    pub accepting: bool,
    /// Tenants placed here now (those being deleted included: their schemas are still there).
    pub tenants: i64,
}

impl TenantDatabase {
    /// The URL without its password, for display.
    pub fn redacted_url(&self) -> String {
        match &self.url {
            None => "(the control database)".into(),
            Some(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                Ok(parsed) => parsed.to_string(),
                Err(_) => "(unparsable URL)".into(),
            },
        }
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for TenantDatabase {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        Ok(Self {
            id: decode_id("id", row.try_get("id")?)?,
            url: row.try_get("url")?,
            region: row.try_get("region")?,
            capacity: row.try_get("capacity")?,
            accepting: row.try_get("accepting")?,
            tenants: row.try_get("tenants")?,
        })
    }
}

const DATABASE_COLUMNS: &str = "d.id, d.url, d.region, d.capacity, d.accepting,
    (select count(*) from control.tenants t where t.database_id = d.id) as tenants";

/// Every tenant database, `main` first.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<TenantDatabase>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DATABASE_COLUMNS} from control.tenant_databases d order by d.id <> 'main', d.id"
    )))
    .fetch_all(conn)
    .await
}

/// One tenant database.
pub async fn find(conn: &mut PgConnection, id: &DatabaseId) -> sqlx::Result<Option<TenantDatabase>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DATABASE_COLUMNS} from control.tenant_databases d where d.id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
}

/// Registers a tenant database (not `main`, which the control plane registers itself).
/// Returns false when the id is taken.
pub async fn insert(
    conn: &mut PgConnection,
    id: &DatabaseId,
    url: &str,
    region: &str,
    capacity: i32,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "insert into control.tenant_databases (id, url, region, capacity) values ($1, $2, $3, $4)
         on conflict (id) do nothing",
    )
    .bind(id.as_str())
    .bind(url)
    .bind(region)
    .bind(capacity)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Changes a database's capacity and whether it accepts new tenants. Returns false when there is
/// no such database.
pub async fn update(
    conn: &mut PgConnection,
    id: &DatabaseId,
    capacity: Option<i32>,
    accepting: Option<bool>,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "update control.tenant_databases
         set capacity = coalesce($2, capacity), accepting = coalesce($3, accepting)
         where id = $1",
    )
    .bind(id.as_str())
    .bind(capacity)
    .bind(accepting)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The placement policy: of the databases in `region` (and `main`, which is in every node's
/// region: the control plane is one per region) that accept new tenants and are below their
/// capacity, the one with the most room left (ties: the lower id). Locks the chosen row until
/// the transaction ends, so concurrent signups count each other. `None`: every database is full.
pub async fn choose_for_new_tenant(conn: &mut PgConnection, region: &str) -> sqlx::Result<Option<DatabaseId>> {
    let chosen: Option<String> = sqlx::query_scalar(
        "select d.id from control.tenant_databases d
         where d.accepting and (d.region = $1 or d.region is null)
           and d.capacity > (select count(*) from control.tenants t where t.database_id = d.id)
         order by d.capacity - (select count(*) from control.tenants t where t.database_id = d.id) desc, d.id
         limit 1
         for update of d",
    )
    .bind(region)
    .fetch_optional(conn)
    .await?;
    chosen.map(|id| decode_id("id", &id)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_ids_are_narrow() {
        assert!("main".parse::<DatabaseId>().is_ok_and(|id| id.is_main()));
        assert!("pg2-a_1".parse::<DatabaseId>().is_ok_and(|id| !id.is_main()));
        for bad in ["", "-x", "A", "a b", "x;drop", &"x".repeat(41)] {
            assert!(bad.parse::<DatabaseId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_shown_without_passwords() {
        let db = TenantDatabase {
            id: "b".parse().expect("id"),
            url: Some("postgres://kefu:secret@db2:5433/kefu".into()),
            region: Some("local".into()),
            capacity: 1,
            accepting: true,
            tenants: 0,
        };
        assert_eq!(db.redacted_url(), "postgres://kefu:***@db2:5433/kefu");
    }

    #[tokio::test]
    async fn a_tenant_database_url_must_be_verified_off_the_machine_in_production() {
        use crate::transport::Policy;
        let control = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://x@127.0.0.1/db").expect("lazy");
        let databases =
            |transport| Databases::new(control.clone(), PoolSettings { transport, ..PoolSettings::default() });
        let id: DatabaseId = "eu-2".parse().expect("id");
        let plain = "postgres://kefu:pw@db2.internal:5432/kefu";
        let verified = "postgres://kefu:pw@db2.internal:5432/kefu?sslmode=verify-full";
        let refused = databases(Policy::RequireVerified).check_url(&id, plain).expect_err("refused");
        assert!(refused.contains("tenant database `eu-2` reaches `db2.internal` with sslmode=prefer"), "{refused}");
        assert!(!refused.contains("pw"), "{refused}");
        assert_eq!(databases(Policy::RequireVerified).check_url(&id, verified), Ok(None));
        assert_eq!(databases(Policy::RequireVerified).check_url(&id, "postgres://kefu@localhost/kefu"), Ok(None));
        assert!(databases(Policy::Warn).check_url(&id, plain).is_ok_and(|warning| warning.is_some()));
        assert_eq!(databases(Policy::Any).check_url(&id, plain), Ok(None));
        let missing = databases(Policy::Any)
            .check_url(&id, "postgres://k@db2/kefu?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .expect_err("unreadable CA");
        assert!(
            missing.contains("tenant database `eu-2`: sslrootcert `/nonexistent/ca.pem` cannot be read"),
            "{missing}"
        );
    }
}
