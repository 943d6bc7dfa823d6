//! `control.users`: people's accounts, independent of tenants.

use chrono::{DateTime, Utc};
use kefu_protocol::UserId;
use sqlx::PgConnection;

/// A user as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// User id.
    pub id: UserId,
    /// Email as typed.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// When the email was verified.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The language they read Kefu in (`en`, `zh-CN`), once the console told.
    pub language: Option<String>,
}

const COLUMNS: &str = "id, email, password_hash, display_name, email_verified_at, language";

/// Inserts a user. A duplicate email violates `users_email_key`.
pub async fn insert(
    conn: &mut PgConnection,
    id: UserId,
    email: &str,
    password_hash: &str,
    display_name: &str,
    verified: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into control.users (id, email, password_hash, display_name, email_verified_at)
         values ($1, $2, $3, $4, case when $5 then now() end)",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(display_name)
    .bind(verified)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds a user by email, case-insensitively.
pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.users where lower(email) = lower($1)")))
        .bind(email)
        .fetch_optional(conn)
        .await
}

/// Finds a user by id.
pub async fn find(conn: &mut PgConnection, id: UserId) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.users where id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Marks the email verified (idempotent).
pub async fn mark_verified(conn: &mut PgConnection, id: UserId) -> sqlx::Result<()> {
    sqlx::query("update control.users set email_verified_at = coalesce(email_verified_at, now()) where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the password hash.
pub async fn set_password(conn: &mut PgConnection, id: UserId, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("update control.users set password_hash = $2, password_changed_at = now() where id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the language a user reads Kefu in.
pub async fn set_language(conn: &mut PgConnection, user: kefu_protocol::UserId, language: &str) -> sqlx::Result<()> {
    sqlx::query("update control.users set language = $2 where id = $1").bind(user).bind(language).execute(conn).await?;
    Ok(())
}
