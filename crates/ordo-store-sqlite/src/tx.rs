//! One SQLite transaction on the writer thread, through SQLite's C API (rusqlite).
//!
//! Every method runs its statement synchronously (prepared once, then cached) and returns a
//! future that is already complete, which is what lets the writer thread poll a whole unit of
//! work once (see [`crate::writer`]). The SQL text and the row mappings are the shared ones in
//! `ordo-store/shared/sql_store/`; values are encoded exactly as sqlx encodes them for the
//! readers (UUIDs as 16-byte blobs, times as RFC 3339 text, JSON as text).

use std::cell::Cell;

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_store::{Job, StoreError, StoreResult};
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::sql_store::{Cols, LINE_COLUMNS, corrupt};

/// One order's lines (PostgreSQL reads them for many orders at once, in `orders_with_lines`).
pub(crate) static LINES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id = $1 ORDER BY line_no")
});

/// The writer connection, lent to one unit of work at a time.
pub(crate) struct SqliteTx {
    pub(crate) conn: Connection,
    /// A statement of the current unit failed: the unit must end with `Err`, as on PostgreSQL
    /// (see `ordo_store::went_on_after_a_failure`).
    pub(crate) failed: Cell<bool>,
}

impl SqliteTx {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            conn,
            failed: Cell::new(false),
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a unit with a clean slate; returns whether the previous one saw a failure.
    pub(crate) fn take_failed(&self) -> bool {
        self.failed.replace(false)
    }

    pub(crate) fn fail(&self, e: rusqlite::Error) -> StoreError {
        self.failed.set(true);
        map_rusqlite_err(e)
    }

    pub(crate) fn execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map_err(|e| self.fail(e))
    }

    /// Writes a job with one of the job statements (they share their parameters).
    pub(crate) fn put_job(&self, sql: &str, job: &Job, at: DateTime<Utc>) -> StoreResult<usize> {
        self.execute(
            sql,
            params![
                job.id,
                job.kind,
                job.key,
                json(&job.payload)?,
                ts(&job.run_at),
                ts(&at)
            ],
        )
    }

    pub(crate) fn query<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut map: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.fail(e))? {
            out.push(map(row)?);
        }
        Ok(out)
    }
}

/// A time as sqlx writes it for SQLite, so both drivers compare and sort the same text.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

pub(crate) fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(e.into()))
}

/// Maps a rusqlite error like `crate::map_err` maps sqlx's.
pub(crate) fn map_rusqlite_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, msg) = &e {
        let msg = msg.as_deref().unwrap_or_default();
        let kind = match err.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(crate::ConstraintKind::Unique),
            rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => Some(crate::ConstraintKind::Check),
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(crate::ConstraintKind::ForeignKey),
            _ => None,
        };
        if let Some(name) = kind.and_then(|k| crate::constraint_named(k, msg)) {
            return StoreError::Conflict(name);
        }
        if matches!(
            err.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return StoreError::Contention;
        }
        if matches!(
            err.code,
            rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::CannotOpen
        ) {
            return StoreError::Unavailable(e.into());
        }
    }
    StoreError::Other(e.into())
}

impl Cols for rusqlite::Row<'_> {
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn int32(&self, col: &str) -> StoreResult<i32> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(col)?
            .ok_or_else(|| corrupt("time", format!("{col} is NULL")))
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let text: Option<String> = self.get(col).map_err(map_rusqlite_err)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| corrupt("time", e))
        })
        .transpose()
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let text: String = self.get(col).map_err(map_rusqlite_err)?;
        serde_json::from_str(&text).map_err(|e| corrupt("json", e))
    }
}
