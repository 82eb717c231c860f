//! `Idempotency-Key`: a retried POST with the same key gets the first answer back and
//! publishes nothing new. Only successful answers are remembered, so a request that failed
//! (503, say) can be retried with the same key and really be tried again.
//!
//! The keys live in this process's memory, or, with `database_url`, in PostgreSQL, so that a
//! retry reaching another producer instance is answered the same.

mod memory;
mod postgres;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use memory::MemoryKeys;
use postgres::PgKeys;

/// How long an answer is remembered.
const TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct Saved {
    pub status: StatusCode,
    pub location: String,
    pub body: Value,
}

pub enum Begin {
    /// First use of the key: go ahead, then call `finish` or `abort`.
    New,
    Replay(Saved),
    /// The same key is being processed by another request right now.
    InFlight,
    /// The key was used with a different body.
    Mismatch,
}

/// The body's fingerprint: the same in every process and version, as instances share keys.
pub fn fingerprint(body: &Value) -> String {
    openssl::sha::sha256(body.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub enum Idempotency {
    Memory(MemoryKeys),
    Postgres(PgKeys),
}

/// The shared keys could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the Idempotency-Key store (PostgreSQL) failed: {0}")]
pub struct KeysError(String);

impl Idempotency {
    pub fn memory() -> Self {
        Self::Memory(MemoryKeys::default())
    }

    pub fn postgres(pool: deadpool_postgres::Pool) -> Self {
        Self::Postgres(PgKeys::new(pool))
    }

    pub async fn begin(&self, key: &str, fingerprint: &str) -> Result<Begin, KeysError> {
        match self {
            Self::Memory(keys) => Ok(keys.begin(key, fingerprint)),
            Self::Postgres(keys) => keys.begin(key, fingerprint).await,
        }
    }

    /// Remembers the answer. A failure is logged: the order was published either way, and a
    /// retry is answered "still being processed" until the key is taken over.
    pub async fn finish(&self, key: &str, fingerprint: &str, saved: Saved) {
        match self {
            Self::Memory(keys) => keys.finish(key, fingerprint, saved),
            Self::Postgres(keys) => {
                if let Err(err) = keys.finish(key, saved).await {
                    tracing::error!(key, %err, "the answer to an Idempotency-Key could not be remembered");
                }
            }
        }
    }

    /// Forgets a key whose request published nothing, so a retry really tries again.
    pub async fn abort(&self, key: &str) {
        match self {
            Self::Memory(keys) => keys.abort(key),
            Self::Postgres(keys) => {
                if let Err(err) = keys.abort(key).await {
                    tracing::warn!(key, %err, "an Idempotency-Key could not be released; a retry waits until it is taken over");
                }
            }
        }
    }
}
