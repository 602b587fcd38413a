//! Creating and dropping whole databases on a PostgreSQL server, for the test suite and the
//! benchmarks (which each want a fresh database of their own). `name` is always one the caller
//! made up (letters, digits, `_`), never user input: it is spliced into the statement.

use anyhow::Context;
use sqlx::{Connection, PgConnection};

async fn connect(admin_url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("Failed to connect to PostgreSQL at {admin_url}"))
}

/// Creates database `name` on `admin_url`'s server and returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .with_context(|| format!("Failed to create database {name}"))?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Drops database `name`, disconnecting anyone still in it.
pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .with_context(|| format!("Failed to drop database {name}"))?;
    Ok(())
}
