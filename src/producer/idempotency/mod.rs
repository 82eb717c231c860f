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
    /// First use of the key: go ahead with the claim's order id, then call `finish` or
    /// `abort` with the claim.
    New(Claim),
    Replay(Saved),
    /// The same key is being processed by another request right now.
    InFlight,
    /// The key was used with a different body.
    Mismatch,
}

/// What a request holding a key publishes under, and what it answers or releases the key with.
#[derive(Default)]
pub struct Claim {
    /// The order's id: the one proposed, or, when an abandoned key is taken over, the id the
    /// first request had (if that one was published after all, the order is stored once).
    pub order_id: String,
    /// Who holds the key (shared keys only): a request that took too long cannot answer or
    /// release the key once another has taken it over.
    token: String,
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

    /// Begins a request with `key`; `order_id` is the id its order will have if it is new.
    pub async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        order_id: String,
    ) -> Result<Begin, KeysError> {
        match self {
            Self::Memory(keys) => Ok(match keys.begin(key, fingerprint) {
                Begin::New(_) => Begin::New(Claim {
                    order_id,
                    token: String::new(),
                }),
                other => other,
            }),
            Self::Postgres(keys) => bounded(keys.begin(key, fingerprint, order_id)).await,
        }
    }

    /// Remembers the answer. A failure is logged: the order was published either way, and a
    /// retry is answered "still being processed" until the key is taken over.
    pub async fn finish(&self, key: &str, fingerprint: &str, claim: &Claim, saved: Saved) {
        match self {
            Self::Memory(keys) => keys.finish(key, fingerprint, saved),
            Self::Postgres(keys) => {
                if let Err(err) = bounded(keys.finish(key, &claim.token, saved)).await {
                    tracing::error!(key, %err, "the answer to an Idempotency-Key could not be remembered");
                }
            }
        }
    }

    /// Forgets a key whose request published nothing, so a retry really tries again.
    pub async fn abort(&self, key: &str, claim: &Claim) {
        match self {
            Self::Memory(keys) => keys.abort(key),
            Self::Postgres(keys) => {
                if let Err(err) = bounded(keys.abort(key, &claim.token)).await {
                    tracing::warn!(key, %err, "an Idempotency-Key could not be released; a retry waits until it is taken over");
                }
            }
        }
    }
}

/// A shared-key operation, failed after the database's operation timeout.
async fn bounded<T>(
    operation: impl std::future::Future<Output = Result<T, KeysError>>,
) -> Result<T, KeysError> {
    let limit = crate::database::OPERATION_TIMEOUT;
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| {
            Err(KeysError(format!(
                "the database did not answer within {} s",
                limit.as_secs()
            )))
        })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn saved(n: u64) -> Saved {
        Saved {
            status: StatusCode::ACCEPTED,
            location: format!("/orders/{n}"),
            body: serde_json::json!({"n": n}),
        }
    }

    /// Two producers sharing keys through PostgreSQL, including a key whose first request was
    /// abandoned and one that expired.
    #[tokio::test]
    async fn producers_share_keys_and_an_abandoned_key_keeps_its_order_id() {
        let Some(url) = crate::database::test_database().await else {
            return;
        };
        let pool = crate::database::connect(&url, 2, None).await.expect("pool");
        let one = Idempotency::postgres(pool.clone());
        let other =
            Idempotency::postgres(crate::database::connect(&url, 2, None).await.expect("pool"));

        let Ok(Begin::New(first)) = one.begin("k", "f1", "order-1".into()).await else {
            panic!("a new key goes ahead");
        };
        assert_eq!(first.order_id, "order-1");
        assert!(matches!(
            other.begin("k", "f1", "order-2".into()).await,
            Ok(Begin::InFlight)
        ));
        assert!(matches!(
            other.begin("k", "f2", "order-2".into()).await,
            Ok(Begin::Mismatch)
        ));
        one.finish("k", "f1", &first, saved(1)).await;
        match other.begin("k", "f1", "order-3".into()).await {
            Ok(Begin::Replay(answer)) => assert_eq!(answer.body, serde_json::json!({"n": 1})),
            _ => panic!("the other producer replays the first answer"),
        }

        // Abandoned: in flight for longer than ABANDONED. Only the same body takes it over,
        // with the first request's order id; the first request can no longer answer it.
        let Ok(Begin::New(stale)) = one.begin("a", "f1", "order-4".into()).await else {
            panic!("new");
        };
        let client = pool.get().await.expect("client");
        client
            .execute(
                "UPDATE idempotency_keys SET since = now() - INTERVAL '6 minutes' WHERE key = 'a'",
                &[],
            )
            .await
            .expect("age the key");
        assert!(matches!(
            other.begin("a", "f2", "order-5".into()).await,
            Ok(Begin::Mismatch)
        ));
        let Ok(Begin::New(taken)) = other.begin("a", "f1", "order-5".into()).await else {
            panic!("an abandoned key is taken over");
        };
        assert_eq!(
            taken.order_id, "order-4",
            "the same order id: stored once if both publish"
        );
        one.finish("a", "f1", &stale, saved(4)).await;
        one.abort("a", &stale).await;
        assert!(
            matches!(
                one.begin("a", "f1", "order-6".into()).await,
                Ok(Begin::InFlight)
            ),
            "the late request changed nothing"
        );
        other.finish("a", "f1", &taken, saved(5)).await;
        assert!(
            matches!(one.begin("a", "f1", "order-6".into()).await, Ok(Begin::Replay(s)) if s.body == serde_json::json!({"n": 5}))
        );

        // Expired: a new use, with a new order id.
        client
            .execute(
                "UPDATE idempotency_keys SET since = now() - INTERVAL '25 hours' WHERE key = 'k'",
                &[],
            )
            .await
            .expect("age the key");
        let Ok(Begin::New(again)) = other.begin("k", "f2", "order-7".into()).await else {
            panic!("an expired key starts afresh");
        };
        assert_eq!(again.order_id, "order-7");
    }
}
