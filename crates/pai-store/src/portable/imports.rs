//! The progress of imports started over HTTP: what both backends do alike.
//! Creating one and failing the interrupted ones differ (PostgreSQL records
//! which server runs it) and stay in each backend.

use chrono::Utc;
use pai_core::store::{ImportId, ImportRecord, ImportState, UserId};
use pai_core::{Error, Result};

use super::{Arg, Run};
use crate::rows::{self, IMPORT_COLUMNS as COLUMNS};

pub(crate) async fn update(
    pool: &dyn Run,
    user: UserId,
    id: ImportId,
    state: ImportState,
    done: u64,
    report: Option<serde_json::Value>,
    error: Option<&str>,
) -> Result<ImportRecord> {
    let report = report.map(|r| r.to_string());
    let sql = format!(
        "UPDATE imports SET state = $1, done = $2, report = $3, error = $4, updated_at = $5
         WHERE user_id = $6 AND id = $7 RETURNING {COLUMNS}"
    );
    let args = [
        Arg::Text(state.as_str()),
        Arg::Int(done as i64),
        Arg::OptText(report.as_deref()),
        Arg::OptText(error),
        Arg::Time(Utc::now()),
        Arg::Int(user.0),
        Arg::Int(id.0),
    ];
    let row = pool.optional(&sql, &args).await?.ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&*row)
}

pub(crate) async fn get(pool: &dyn Run, user: UserId, id: ImportId) -> Result<ImportRecord> {
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND id = $2");
    let row = pool
        .optional(&sql, &[Arg::Int(user.0), Arg::Int(id.0)])
        .await?
        .ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&*row)
}

pub(crate) async fn list(pool: &dyn Run, user: UserId) -> Result<Vec<ImportRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 ORDER BY id DESC");
    pool.all(&sql, &[Arg::Int(user.0)]).await?.iter().map(|r| rows::import(&**r)).collect()
}
