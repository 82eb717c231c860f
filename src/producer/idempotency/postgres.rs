//! Idempotency-Key answers in PostgreSQL (`idempotency_keys`), shared by every producer on
//! the database: the first request to insert a key goes ahead; the others see its answer, or
//! that it is still in flight.

use std::time::Duration;

use axum::http::StatusCode;
use deadpool_postgres::Pool;

use super::{Begin, Claim, KeysError, Saved, TTL};

/// A key still in flight after this long belongs to a request whose producer died (or whose
/// answer could not be written): the next request with it and the same body goes ahead, with
/// the same order id.
const ABANDONED: Duration = Duration::from_secs(300);
/// How often expired keys are deleted.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

pub struct PgKeys {
    pool: Pool,
}

fn failed(err: impl std::fmt::Display) -> KeysError {
    KeysError(err.to_string())
}

fn pool_failed(err: deadpool_postgres::PoolError) -> KeysError {
    KeysError(crate::database::pool_reason(&err))
}

fn pg_failed(err: tokio_postgres::Error) -> KeysError {
    KeysError(crate::database::reason(&err))
}

impl PgKeys {
    /// Also starts deleting expired keys in the background.
    pub fn new(pool: Pool) -> Self {
        let cleaner = pool.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CLEANUP_EVERY);
            loop {
                every.tick().await;
                let deleted = match cleaner.get().await {
                    Ok(client) => client
                        .execute(
                            "DELETE FROM idempotency_keys WHERE since < now() - $1::FLOAT8 * INTERVAL '1 second'",
                            &[&TTL.as_secs_f64()],
                        )
                        .await
                        .map_err(pg_failed),
                    Err(err) => Err(pool_failed(err)),
                };
                if let Err(err) = deleted {
                    tracing::warn!(%err, "expired Idempotency-Keys could not be deleted");
                }
            }
        });
        Self { pool }
    }

    pub async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        order_id: String,
    ) -> Result<Begin, KeysError> {
        let client = self.pool.get().await.map_err(pool_failed)?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        // A key released by `abort` between the two statements is simply tried again.
        for _ in 0..3 {
            // Inserted, or taken over: an expired key starts afresh; an abandoned one, with the
            // same body only, keeps its order id. Either way this request goes ahead.
            let mine = client
                .query_opt(
                    "INSERT INTO idempotency_keys (key, fingerprint, order_id, token)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                        token = EXCLUDED.token, since = now(),
                        status = NULL, location = NULL, answer = NULL,
                        order_id = CASE
                            WHEN idempotency_keys.since < now() - $5::FLOAT8 * INTERVAL '1 second'
                            THEN EXCLUDED.order_id ELSE idempotency_keys.order_id END
                     WHERE idempotency_keys.since < now() - $5::FLOAT8 * INTERVAL '1 second'
                        OR (idempotency_keys.answer IS NULL
                            AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
                            AND idempotency_keys.since < now() - $6::FLOAT8 * INTERVAL '1 second')
                     RETURNING order_id",
                    &[
                        &key,
                        &fingerprint,
                        &order_id,
                        &token,
                        &TTL.as_secs_f64(),
                        &ABANDONED.as_secs_f64(),
                    ],
                )
                .await
                .map_err(pg_failed)?;
            if let Some(row) = mine {
                return Ok(Begin::New(Claim {
                    order_id: row.get(0),
                    token,
                }));
            }
            let Some(row) = client
                .query_opt(
                    "SELECT fingerprint, status, location, answer FROM idempotency_keys WHERE key = $1",
                    &[&key],
                )
                .await
                .map_err(pg_failed)?
            else {
                continue;
            };
            let (stored, status, location, answer): (
                String,
                Option<i16>,
                Option<String>,
                Option<String>,
            ) = (row.get(0), row.get(1), row.get(2), row.get(3));
            if stored != fingerprint {
                return Ok(Begin::Mismatch);
            }
            return Ok(match (status, location, answer) {
                (Some(status), Some(location), Some(answer)) => Begin::Replay(Saved {
                    status: StatusCode::from_u16(status as u16).map_err(failed)?,
                    location,
                    body: serde_json::from_str(&answer).map_err(failed)?,
                }),
                _ => Begin::InFlight,
            });
        }
        Err(KeysError(format!(
            "the key {key:?} kept changing while it was read"
        )))
    }

    /// Answers the key, if `token` still holds it.
    pub async fn finish(&self, key: &str, token: &str, saved: Saved) -> Result<(), KeysError> {
        self.pool
            .get()
            .await
            .map_err(pool_failed)?
            .execute(
                "UPDATE idempotency_keys SET status = $3, location = $4, answer = $5
                 WHERE key = $1 AND token = $2",
                &[
                    &key,
                    &token,
                    &(saved.status.as_u16() as i16),
                    &saved.location,
                    &saved.body.to_string(),
                ],
            )
            .await
            .map_err(pg_failed)?;
        Ok(())
    }

    /// Releases the key, if `token` still holds it.
    pub async fn abort(&self, key: &str, token: &str) -> Result<(), KeysError> {
        self.pool
            .get()
            .await
            .map_err(pool_failed)?
            .execute(
                "DELETE FROM idempotency_keys WHERE key = $1 AND token = $2 AND answer IS NULL",
                &[&key, &token],
            )
            .await
            .map_err(pg_failed)?;
        Ok(())
    }
}
