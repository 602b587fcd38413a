//! Idempotency, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::idempotency`].

use ordo_store::{IdempotencyRecord, StoreResult};

use super::Cols;

pub(crate) fn idempotency_from_row(row: &impl Cols) -> StoreResult<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        request_hash: row.bytes("request_hash")?,
        response: row.opt_text("response")?,
    })
}
