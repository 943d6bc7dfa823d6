//! Plans as data (docs/billing.md): the rows of `control.plans`, a workspace's plan with its
//! trial, the operator's edits (`kefu plans`), and the end of trials. Every check reads the row
//! it needs when it runs, so an edit applies on every node at once.

use kefu_protocol::TenantId;
use sqlx::PgConnection;

use super::TenantTx;

/// One plan.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Plan {
    /// Its id (`free`, `starter`, `pro`, or the operator's own).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Order on the billing page.
    pub position: i32,
    /// Offered on the billing page.
    pub public: bool,
    /// Members (with pending invitations) at most.
    pub seats: i32,
    /// Conversations started per month (in the workspace's time zone) before new ones go to the
    /// offline form.
    pub conversations_per_month: i32,
    /// Attachment storage in MiB.
    pub attachment_storage_mb: i32,
    /// The largest attachment in MiB.
    pub attachment_max_mb: i32,
    /// Knowledge-base entries at most.
    pub kb_entries: i32,
    /// The longest history kept, in days (`None`: no bound).
    pub max_retention_days: Option<i32>,
    /// Conversations in one export at most.
    pub export_conversations: i32,
    /// Requests per minute of the workspace's API keys together.
    pub api_requests_per_minute: i32,
    /// Features: `bot`, `api`, `regions`, `analytics_export`.
    pub features: Vec<String>,
    /// Days of trial a new workspace gets on this plan (the plan with the most is the signup's).
    pub trial_days: i32,
    /// Display price per seat and month, in the currency's minor unit.
    pub price_per_seat_cents: i32,
    /// ISO currency, lower case.
    pub currency: String,
    /// The Stripe price billed per seat (`None`: not sold through Stripe).
    pub stripe_price_id: Option<String>,
}

const COLUMNS: &str = "p.id, p.name, p.position, p.public, p.seats, p.conversations_per_month, p.attachment_storage_mb,
    p.attachment_max_mb, p.kb_entries, p.max_retention_days, p.export_conversations, p.api_requests_per_minute,
    p.features, p.trial_days, p.price_per_seat_cents, p.currency, p.stripe_price_id";

/// Every plan, in billing-page order.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<Plan>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.plans p order by p.position, p.id")))
        .fetch_all(conn)
        .await
}

/// One plan.
pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Plan>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.plans p where p.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The plan billed with a Stripe price (the first by position if several share it).
pub async fn by_price(conn: &mut PgConnection, price: &str) -> sqlx::Result<Option<Plan>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.plans p where p.stripe_price_id = $1 order by p.position limit 1"
    )))
    .bind(price)
    .fetch_optional(conn)
    .await
}

/// The active workspaces on a plan.
pub async fn tenants_on(conn: &mut PgConnection, plan: &str) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar("select id from control.tenants where plan_id = $1 and status = 'active' order by id")
        .bind(plan)
        .fetch_all(conn)
        .await
}

/// A workspace's plan.
pub async fn of_tenant(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Plan> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1"
    )))
    .bind(tenant)
    .fetch_one(conn)
    .await
}

/// The transaction's tenant's plan.
pub async fn current(tx: &mut TenantTx) -> sqlx::Result<Plan> {
    let tenant = tx.tenant_id();
    of_tenant(tx.control().await?, tenant).await
}

/// Whether a workspace's plan includes `feature`.
pub async fn has_feature(conn: &mut PgConnection, tenant: TenantId, feature: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select $2 = any(p.features) from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(tenant)
    .bind(feature)
    .fetch_optional(conn)
    .await
    .map(|has| has.unwrap_or(false))
}

/// A workspace's API budget: requests per minute for its keys together, or `None` when its
/// plan does not include the API.
pub async fn api_allowance(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "select case when 'api' = any(p.features) then p.api_requests_per_minute end
         from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

/// The plan a new workspace tries, and for how many days: the one with the longest trial (on a
/// tie, the later on the billing page); `None` when no plan has a trial.
pub async fn signup_trial(conn: &mut PgConnection) -> sqlx::Result<Option<(String, i32)>> {
    sqlx::query_as(
        "select id, trial_days from control.plans where trial_days > 0 order by trial_days desc, position desc limit 1",
    )
    .fetch_optional(conn)
    .await
}

/// The plan a workspace falls back to when a trial or a subscription ends.
pub const FALLBACK: &str = "free";

/// Workspaces whose trial ended, oldest first (the job then ends each in its own transaction).
pub async fn due_trials(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar(
        "select id from control.tenants where trial_ends_at < now() and status = 'active'
         order by trial_ends_at limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Ends the transaction's tenant's trial if it is over, putting it on the fallback plan; returns
/// the plan it was trying (`None`: not over, or another node ended it first).
pub async fn end_trial(tx: &mut TenantTx) -> sqlx::Result<Option<String>> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar(
        "with old as (select id, plan_id from control.tenants where id = $1 and trial_ends_at < now() for update)
         update control.tenants t set plan_id = $2, trial_ends_at = null, plan_since = now()
           from old where t.id = old.id
         returning old.plan_id",
    )
    .bind(tenant)
    .bind(FALLBACK)
    .fetch_optional(tx.control().await?)
    .await
}

/// The transaction's tenant's owner: email and display name.
pub async fn owner(tx: &mut TenantTx) -> sqlx::Result<Option<(String, String)>> {
    let tenant = tx.tenant_id();
    sqlx::query_as(
        "select u.email, u.display_name from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1 and m.role = 'owner'",
    )
    .bind(tenant)
    .fetch_optional(tx.control().await?)
    .await
}

/// Puts the transaction's tenant on a plan (the operator, or billing); a trial in course ends.
/// False if no such plan.
pub async fn set(tx: &mut TenantTx, plan: &str) -> sqlx::Result<bool> {
    let tenant = tx.tenant_id();
    let updated = sqlx::query(
        "update control.tenants set plan_id = p.id, trial_ends_at = null,
             plan_since = case when plan_id = p.id then plan_since else now() end
         from control.plans p where control.tenants.id = $1 and p.id = $2",
    )
    .bind(tenant)
    .bind(plan)
    .execute(tx.control().await?)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A plan's field the operator may change, with its new value.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A text column (`name`, `currency`, `stripe_price_id`; empty clears the price).
    Text(&'static str, String),
    /// An integer column.
    Number(&'static str, i32),
    /// `max_retention_days` (`None`: no bound).
    Retention(Option<i32>),
    /// `public`.
    Public(bool),
    /// `features`.
    Features(Vec<String>),
}

impl Change {
    /// Parses `field=value` as the operator writes it.
    pub fn parse(assignment: &str) -> Result<Self, String> {
        let (field, value) =
            assignment.split_once('=').ok_or_else(|| format!("`{assignment}`: expected field=value"))?;
        let number = || value.parse::<i32>().map_err(|_| format!("`{field}`: `{value}` is not a whole number"));
        Ok(match field {
            "name" | "currency" => Change::Text(if field == "name" { "name" } else { "currency" }, value.to_owned()),
            "stripe_price_id" => Change::Text("stripe_price_id", value.to_owned()),
            "seats" => Change::Number("seats", number()?),
            "conversations_per_month" => Change::Number("conversations_per_month", number()?),
            "attachment_storage_mb" => Change::Number("attachment_storage_mb", number()?),
            "attachment_max_mb" => Change::Number("attachment_max_mb", number()?),
            "kb_entries" => Change::Number("kb_entries", number()?),
            "export_conversations" => Change::Number("export_conversations", number()?),
            "api_requests_per_minute" => Change::Number("api_requests_per_minute", number()?),
            "trial_days" => Change::Number("trial_days", number()?),
            "position" => Change::Number("position", number()?),
            "price_per_seat_cents" => Change::Number("price_per_seat_cents", number()?),
            "max_retention_days" if value == "none" => Change::Retention(None),
            "max_retention_days" => Change::Retention(Some(number()?)),
            "public" => Change::Public(value.parse().map_err(|_| format!("`public`: `{value}` is not true or false"))?),
            "features" => {
                Change::Features(value.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned).collect())
            }
            other => return Err(format!("`{other}` is not a plan field")),
        })
    }
}

/// Applies one change to a plan (the table's checks refuse bad values); false if no such plan.
pub async fn change(conn: &mut PgConnection, id: &str, change: &Change) -> sqlx::Result<bool> {
    // The column names come from `Change::parse`'s fixed list, never from input.
    let updated = match change {
        Change::Text("stripe_price_id", value) => {
            sqlx::query("update control.plans set stripe_price_id = nullif($2, '') where id = $1")
                .bind(id)
                .bind(value)
                .execute(conn)
                .await?
        }
        Change::Text(column, value) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("update control.plans set {column} = $2 where id = $1")))
                .bind(id)
                .bind(value)
                .execute(conn)
                .await?
        }
        Change::Number(column, value) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("update control.plans set {column} = $2 where id = $1")))
                .bind(id)
                .bind(value)
                .execute(conn)
                .await?
        }
        Change::Retention(days) => {
            sqlx::query("update control.plans set max_retention_days = $2 where id = $1")
                .bind(id)
                .bind(days)
                .execute(conn)
                .await?
        }
        Change::Public(public) => {
            sqlx::query("update control.plans set public = $2 where id = $1")
                .bind(id)
                .bind(public)
                .execute(conn)
                .await?
        }
        Change::Features(features) => {
            sqlx::query("update control.plans set features = $2 where id = $1")
                .bind(id)
                .bind(features)
                .execute(conn)
                .await?
        }
    };
    Ok(updated.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn operator_changes_are_parsed_from_field_equals_value() {
        assert_eq!(Change::parse("seats=12"), Ok(Change::Number("seats", 12)));
        assert_eq!(Change::parse("max_retention_days=none"), Ok(Change::Retention(None)));
        assert_eq!(Change::parse("features=bot, api"), Ok(Change::Features(vec!["bot".to_owned(), "api".to_owned()])));
        assert_eq!(Change::parse("public=false"), Ok(Change::Public(false)));
        assert!(Change::parse("seats=many").is_err());
        assert!(Change::parse("schema_name=x").is_err());
        assert!(Change::parse("seats").is_err());
    }
}
