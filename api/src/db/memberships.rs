//! `control.memberships`: who belongs to which tenant, with which role.

use chrono::{DateTime, Utc};
use kefu_protocol::{Role, TenantId, UserId};

use super::TenantTx;
use super::tenants::{ACCESS_COLUMNS, TenantAccess};
use sqlx::PgConnection;

/// What the auth extractor needs to accept a member's request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberAuth {
    /// The member's current role.
    pub role: Role,
    /// Whether the user's email is verified.
    pub email_verified: bool,
    /// The tenant.
    #[sqlx(flatten)]
    pub tenant: TenantAccess,
}

impl AsRef<TenantAccess> for MemberAuth {
    fn as_ref(&self) -> &TenantAccess {
        &self.tenant
    }
}

/// A member as listed to colleagues.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    /// User id.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Account display name.
    pub display_name: String,
    /// Role in this tenant.
    pub role: Role,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// Whether they sign in with a second step (an enabled authenticator).
    pub two_factor: bool,
}

/// A tenant a user belongs to, for login.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserTenant {
    /// Tenant id.
    pub tenant_id: TenantId,
    /// Tenant slug.
    pub slug: String,
    /// Tenant name.
    pub name: String,
    /// Role there.
    pub role: Role,
}

/// Adds a member. A second membership violates the primary key `memberships_pkey`.
pub async fn insert(conn: &mut PgConnection, tenant_id: TenantId, user_id: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query("insert into control.memberships (tenant_id, user_id, role) values ($1, $2, $3)")
        .bind(tenant_id)
        .bind(user_id)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

/// Loads a membership with its tenant, for authenticating a request (whatever the session).
pub async fn find_auth(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<Option<MemberAuth>> {
    find_auth_in_session(conn, tenant_id, user_id, None).await
}

/// Loads a membership with its tenant for an access token: only while the token's login session
/// (`sid`) lives — not revoked, not past its absolute end. A token without a session (issued
/// before sessions were checked) is judged by its membership alone.
pub async fn find_auth_in_session(
    conn: &mut PgConnection,
    tenant_id: TenantId,
    user_id: UserId,
    session: Option<uuid::Uuid>,
) -> sqlx::Result<Option<MemberAuth>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select m.role, (u.email_verified_at is not null) as email_verified, {ACCESS_COLUMNS}
         from control.memberships m
         join control.tenants t on t.id = m.tenant_id
         join control.users u on u.id = m.user_id
         where m.tenant_id = $1 and m.user_id = $2
           and ($3::uuid is null or exists (
               select 1 from control.sessions s
                where s.id = $3 and s.user_id = m.user_id and s.tenant_id = m.tenant_id
                  and s.revoked_at is null and s.expires_at > now()))"
    )))
    .bind(tenant_id)
    .bind(user_id)
    .bind(session)
    .fetch_optional(conn)
    .await
}

/// The tenants a user belongs to, oldest membership first.
pub async fn tenants_of(conn: &mut PgConnection, user_id: UserId) -> sqlx::Result<Vec<UserTenant>> {
    sqlx::query_as(
        "select t.id as tenant_id, t.slug, t.name, m.role
         from control.memberships m join control.tenants t on t.id = m.tenant_id
         where m.user_id = $1 and t.status <> 'deleting'
         order by m.created_at, t.slug",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Members of the transaction's tenant, owner first then by join date.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<MemberRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "select m.user_id, u.email, u.display_name, m.role, m.created_at,
                exists (select 1 from control.user_totp t where t.user_id = m.user_id and t.confirmed_at is not null) as two_factor
         from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1
         order by (m.role = 'owner') desc, m.created_at, u.email",
    )
    .bind(tenant_id)
    .fetch_all(tx.control().await?)
    .await
}

/// One member of the transaction's tenant.
pub async fn find(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<Option<MemberRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "select m.user_id, u.email, u.display_name, m.role, m.created_at,
                exists (select 1 from control.user_totp t where t.user_id = m.user_id and t.confirmed_at is not null) as two_factor
         from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1 and m.user_id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(tx.control().await?)
    .await
}

/// Whether the email already belongs to a member of the transaction's tenant.
pub async fn email_is_member(tx: &mut TenantTx, email: &str) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar(
        "select exists(select 1 from control.memberships m join control.users u on u.id = m.user_id
                       where m.tenant_id = $1 and lower(u.email) = lower($2))",
    )
    .bind(tenant_id)
    .bind(email)
    .fetch_one(tx.control().await?)
    .await
}

/// The current role of a member of the transaction's tenant; `None` for anyone else.
pub async fn role(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<Option<Role>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar("select role from control.memberships where tenant_id = $1 and user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(tx.control().await?)
        .await
}

/// Changes a member's role; returns whether a row changed.
pub async fn set_role(tx: &mut TenantTx, user_id: UserId, role: Role) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    let done = sqlx::query("update control.memberships set role = $3 where tenant_id = $1 and user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .bind(role)
        .execute(tx.control().await?)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a member, and revokes the API keys they own in the tenant (keys the workspace owns
/// stay); returns whether a row was removed.
pub async fn delete(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    let control = tx.control().await?;
    let done = sqlx::query("delete from control.memberships where tenant_id = $1 and user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .execute(&mut *control)
        .await?;
    sqlx::query(
        "update control.api_keys set revoked_at = now()
         where tenant_id = $1 and created_by = $2 and owner = 'member' and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(user_id)
    .execute(&mut *control)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Members plus pending invitations of the transaction's tenant: the seats in use.
pub async fn seats_used(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar(
        "select (select count(*) from control.memberships where tenant_id = $1)
              + (select count(*) from control.invitations
                 where tenant_id = $1 and accepted_at is null and revoked_at is null and expires_at > now())",
    )
    .bind(tenant_id)
    .fetch_one(tx.control().await?)
    .await
}

/// The plan seat limit of the transaction's tenant.
pub async fn seat_limit(tx: &mut TenantTx) -> sqlx::Result<i32> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar("select p.seats from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1")
        .bind(tenant_id)
        .fetch_one(tx.control().await?)
        .await
}

/// Serialises seat-changing operations of the transaction's tenant for the rest of the
/// transaction, so two concurrent invitations cannot both take the last seat.
pub async fn lock_seats(tx: &mut TenantTx) -> sqlx::Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query("select id from control.tenants where id = $1 for update")
        .bind(tenant_id)
        .execute(tx.control().await?)
        .await?;
    Ok(())
}
