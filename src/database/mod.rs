//! PostgreSQL (`database_url`): where the Orders API keeps orders and the producers keep
//! Idempotency-Key answers when any number of instances share them.
//!
//! One connection pool per process, sized by `database_pool_size`. The schema is made by
//! migrations embedded in the binary ([`MIGRATIONS`]), applied at start in one transaction
//! that holds an advisory lock, so instances starting together apply each one once.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;

/// How long a request waits for a pooled connection, or for a new one to be made, before the
/// store answers 503.
const WAIT: Duration = Duration::from_secs(5);
/// How long the start waits for an unreachable server before giving up.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// The advisory lock taken while migrating (any number, the same in every version).
const MIGRATION_LOCK: i64 = 0x6b61_666b_615f_6f72;

/// Each migration: its version, its name, and its SQL. Never edit one that has shipped: add
/// the next.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "orders", include_str!("migrations/0001_orders.sql")),
    (
        2,
        "idempotency",
        include_str!("migrations/0002_idempotency.sql"),
    ),
];

/// How long one operation on the database may take before it counts as failed (503): a
/// server that hangs must not hold requests for good.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool of connections to the database at `url`, after the migrations have run.
/// `ca_file`: the CA whose certificates the server's must chain to (and name its host).
pub async fn connect(url: &str, pool_size: usize, ca_file: Option<&Path>) -> anyhow::Result<Pool> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|err| anyhow::anyhow!("invalid configuration: database_url: {}", reason(&err)))?;
    // A server that vanishes without closing the connection (a failover, a cut network) is
    // noticed within seconds, not after TCP's minutes of retransmits, and its connections
    // leave the pool.
    config
        .connect_timeout(WAIT)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(2)
        .tcp_user_timeout(OPERATION_TIMEOUT);
    let tls = tls(ca_file)?;
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT))
        .create_timeout(Some(WAIT))
        .recycle_timeout(Some(WAIT))
        .build()?;
    let started = tokio::time::Instant::now();
    loop {
        match migrate(&pool).await {
            Ok(()) => return Ok(pool),
            // The server said no (a wrong password, no such database): waiting won't help.
            Err(err) if err.is_final() || started.elapsed() > START_PATIENCE => {
                return Err(err).context("the database at database_url could not be prepared")
            }
            Err(err) => {
                tracing::warn!(%err, "the database is not reachable yet; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// TLS as libpq does it: the URL's sslmode says whether (prefer, the default: when the server
/// offers it; require; disable). Without `ca_file` the server's certificate is not checked
/// (libpq's prefer and require: encryption, not identity); with it, the certificate must
/// chain to that CA and name the host (libpq's verify-full).
fn tls(ca_file: Option<&Path>) -> anyhow::Result<MakeTlsConnector> {
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    match ca_file {
        Some(path) => builder.set_ca_file(path).with_context(|| {
            format!(
                "invalid configuration: database_ca_file: cannot read {}",
                path.display()
            )
        })?,
        None => builder.set_verify(SslVerifyMode::NONE),
    }
    let mut tls = MakeTlsConnector::new(builder.build());
    if ca_file.is_none() {
        tls.set_callback(|config, _| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(tls)
}

/// Whether TLS failed by its own rules (a certificate that does not verify, no common
/// protocol), not by a broken connection: waiting would not change it either.
fn tls_refused(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<openssl::ssl::Error>() {
            return tls.code() == openssl::ssl::ErrorCode::SSL;
        }
        source = cause.source();
    }
    false
}

/// What a failed migration says: the server's error when it answered, else why not.
#[derive(Debug, thiserror::Error)]
enum MigrateError {
    #[error("{}", reason(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{}", pool_reason(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("the database was migrated by a newer version of kafka-orders (schema version {found}; this one knows up to {known})")]
    Newer { found: i32, known: i32 },
}

impl MigrateError {
    /// Whether waiting would not change the outcome: the password or user was refused
    /// (SQLSTATE class 28), the database does not exist (3D000), or it is newer than this
    /// binary. A server starting up, recovering or out of connections is waited for.
    fn is_final(&self) -> bool {
        match self {
            Self::Postgres(err) | Self::Pool(deadpool_postgres::PoolError::Backend(err)) => {
                let refused = err
                    .code()
                    .is_some_and(|c| c.code().starts_with("28") || c.code() == "3D000");
                refused || tls_refused(err)
            }
            Self::Pool(_) => false,
            Self::Newer { .. } => true,
        }
    }
}

async fn migrate(pool: &Pool) -> Result<(), MigrateError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS kafka_orders_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let found: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM kafka_orders_migrations",
            &[],
        )
        .await?
        .get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if found > known {
        return Err(MigrateError::Newer { found, known });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO kafka_orders_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tracing::info!(version, name, "database migration applied");
    }
    tx.commit().await?;
    Ok(())
}

/// What went wrong, said fully: tokio-postgres' own text of a server error is only "db error".
pub fn reason(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(err) {
            Some(source) => format!("{err}: {source}"),
            None => err.to_string(),
        },
    }
}

/// What a pool could not do, said fully (its own text of a server error is "db error" too).
pub fn pool_reason(err: &deadpool_postgres::PoolError) -> String {
    match err {
        deadpool_postgres::PoolError::Backend(err) => reason(err),
        other => other.to_string(),
    }
}

/// Creates a new, empty database on the server of `url` (its user needs CREATEDB) and returns
/// the URL of that database: for tests and benchmarks, which each want a database of their own.
pub async fn scratch(url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|err| anyhow::anyhow!("{}", reason(&err)))?;
    tokio::spawn(connection);
    let name = format!("scratch_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|err| anyhow::anyhow!("{}", reason(&err)))?;
    let mut scratch = url::Url::parse(url)?;
    scratch.set_path(&name);
    Ok(scratch.to_string())
}

/// A new database of its own for a test, on the server of `TEST_DATABASE_URL` (CI starts one
/// with fixtures/postgres/postgres.sh): `None`, and the test is skipped, without one, except
/// in CI, where PostgreSQL must be there.
pub async fn test_database() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs the tests on PostgreSQL too: set TEST_DATABASE_URL"
        );
    }
    Some(scratch(&url?).await.expect("a scratch database"))
}

#[cfg(test)]
mod tests {
    /// Instances starting together on a new database: each migration is applied once, every
    /// start succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn instances_starting_together_apply_each_migration_once() {
        let Some(url) = super::test_database().await else {
            return;
        };
        let starts = (0..6).map(|_| super::connect(&url, 1, None));
        let pools = futures::future::try_join_all(starts)
            .await
            .expect("all start");
        let applied: Vec<i32> = pools[0]
            .get()
            .await
            .expect("client")
            .query(
                "SELECT version FROM kafka_orders_migrations ORDER BY version",
                &[],
            )
            .await
            .expect("query")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(
            applied,
            (1..=super::MIGRATIONS.len() as i32).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_wrong_password_stops_the_start_at_once_with_the_servers_reason() {
        let Some(url) = super::test_database().await else {
            return;
        };
        let mut wrong = url::Url::parse(&url).expect("url");
        wrong
            .set_password(Some("not-the-password"))
            .expect("password");
        let started = std::time::Instant::now();
        let err = super::connect(wrong.as_str(), 1, None)
            .await
            .expect_err("refused");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no waiting"
        );
        let text = format!("{err:#}");
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(
            !text.contains("not-the-password"),
            "the password is never shown: {text}"
        );
    }

    /// TLS: encrypted by default (sslmode prefer, as libpq), and with `database_ca_file` the
    /// server must prove who it is. Needs `TEST_DATABASE_CA` (`postgres.sh ca`).
    #[tokio::test]
    async fn tls_encrypts_by_default_and_checks_the_server_against_a_given_ca() {
        let Some(url) = super::test_database().await else {
            return;
        };
        let Some(ca) = std::env::var_os("TEST_DATABASE_CA") else {
            assert!(std::env::var("CI").is_err(), "CI sets TEST_DATABASE_CA");
            return;
        };
        let encrypted = |pool: deadpool_postgres::Pool| async move {
            let client = pool.get().await.expect("client");
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .expect("pg_stat_ssl");
            row.get::<_, bool>(0)
        };
        let default = super::connect(&url, 1, None).await.expect("prefer");
        assert!(encrypted(default).await, "TLS when the server offers it");
        let checked = super::connect(&format!("{url}?sslmode=require"), 1, Some(ca.as_ref()))
            .await
            .expect("the server's certificate chains to the CA and names 127.0.0.1");
        assert!(encrypted(checked).await);

        // Another CA: the server cannot prove who it is, and that stops the start at once.
        let dir = tempfile::tempdir().expect("tempdir");
        let other = dir.path().join("other-ca.pem");
        std::fs::write(&other, self_signed("another CA")).expect("write");
        let started = std::time::Instant::now();
        let err = super::connect(&format!("{url}?sslmode=require"), 1, Some(&other))
            .await
            .expect_err("refused");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no waiting"
        );
        assert!(
            format!("{err:#}").contains("certificate verify failed"),
            "{err:#}"
        );
    }

    fn self_signed(name: &str) -> Vec<u8> {
        use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
        let mut subject = x509::X509NameBuilder::new().expect("name");
        subject.append_entry_by_text("CN", name).expect("CN");
        let subject = subject.build();
        let mut cert = x509::X509Builder::new().expect("builder");
        cert.set_version(2).expect("v3");
        cert.set_subject_name(&subject).expect("subject");
        cert.set_issuer_name(&subject).expect("issuer");
        cert.set_pubkey(&key).expect("key");
        cert.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
            .expect("from");
        cert.set_not_after(&Asn1Time::days_from_now(1).expect("then"))
            .expect("until");
        cert.sign(&key, MessageDigest::sha256()).expect("sign");
        cert.build().to_pem().expect("pem")
    }
}
