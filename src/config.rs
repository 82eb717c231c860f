//! Settings, layered with figment: built-in defaults < `kafka-orders.toml` <
//! `KAFKA_ORDERS_*` environment variables < command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Kafka bootstrap servers the services connect to (ignored with `embedded`).
    pub brokers: String,
    /// Start the built-in broker in this process and use it.
    pub embedded: bool,
    pub topic: String,
    pub group: String,
    /// Partitions of the orders topic when this program creates it.
    pub partitions: i32,
    pub producer_listen: SocketAddr,
    pub orders_api_listen: SocketAddr,
    /// The consumer's own HTTP port: `/healthz`, `/readyz` (partitions assigned), `/metrics`.
    pub consumer_listen: SocketAddr,
    /// Where the consumer sends orders, and the base of the producer's `Location` header.
    pub orders_api_url: String,
    pub broker_listen: SocketAddr,
    /// The console (topics, messages, groups, orders); served with the other services.
    pub console_listen: SocketAddr,
    /// `host:port` the built-in broker advertises (for containers); default: its bound address.
    pub broker_advertised: Option<String>,
    /// Whether the built-in broker creates a topic on its first Metadata request.
    pub auto_create_topics: bool,
    /// Built-in broker: open client connections at most.
    pub broker_max_connections: usize,
    /// Built-in broker: largest request frame; a larger one closes the connection.
    pub broker_max_frame_bytes: usize,
    /// Keep data here: the built-in broker's log and group offsets (`broker/`) and the Orders
    /// API's orders (`orders-api/orders.db`). Default: everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Built-in broker fsync policy: never, always, or an interval such as 1000ms.
    pub fsync: String,
    pub log_format: LogFormat,
    /// How long `POST /orders` waits for Kafka to acknowledge before answering 503.
    pub publish_timeout_ms: u64,
    /// Default wait for `POST /orders?wait=true` before answering 504.
    pub reply_timeout_ms: u64,
    /// Open connections per HTTP service; one more is answered 503 and closed.
    pub http_max_connections: usize,
    /// Time a client has to send a request's headers (slow clients are disconnected).
    pub http_header_timeout_ms: u64,
    /// Largest request head (request line and headers); larger gets 431.
    pub http_max_header_bytes: usize,
    /// Largest request body; larger gets 413.
    pub http_max_body_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            brokers: "localhost:9092".into(),
            embedded: false,
            topic: "orders-topic".into(),
            group: "orders-consumer".into(),
            partitions: 3,
            producer_listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            orders_api_listen: SocketAddr::from(([127, 0, 0, 1], 3003)),
            consumer_listen: SocketAddr::from(([127, 0, 0, 1], 3002)),
            orders_api_url: "http://localhost:3003".into(),
            broker_listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            console_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            broker_advertised: None,
            auto_create_topics: true,
            broker_max_connections: 1_000,
            broker_max_frame_bytes: 100 * 1024 * 1024,
            data_dir: None,
            fsync: "never".into(),
            log_format: LogFormat::Human,
            publish_timeout_ms: 5_000,
            reply_timeout_ms: 10_000,
            http_max_connections: 1_000,
            http_header_timeout_ms: 10_000,
            http_max_header_bytes: 64 * 1024,
            http_max_body_bytes: 1024 * 1024,
        }
    }
}

impl Settings {
    /// Loads the layers; `overrides` holds only the flags given on the command line.
    pub fn load(file: &std::path::Path, overrides: &impl Serialize) -> anyhow::Result<Self> {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("KAFKA_ORDERS_"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| anyhow::anyhow!("invalid configuration: {err}"))?;
        settings.fsync_policy()?;
        if settings.http_max_connections < 1 || settings.http_max_header_bytes < 8192 {
            anyhow::bail!("invalid configuration: http_max_connections must be at least 1 and http_max_header_bytes at least 8192");
        }
        if settings.partitions < 1 {
            anyhow::bail!(
                "invalid configuration: partitions must be at least 1, not {}",
                settings.partitions
            );
        }
        reqwest::Url::parse(&settings.orders_api_url).map_err(|e| {
            anyhow::anyhow!(
                "invalid configuration: orders_api_url {:?}: {e}",
                settings.orders_api_url
            )
        })?;
        Ok(settings)
    }

    pub fn fsync_policy(&self) -> anyhow::Result<broker::FsyncPolicy> {
        self.fsync
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid configuration: fsync: {e}"))
    }

    pub fn http_limits(&self) -> crate::http_server::Limits {
        crate::http_server::Limits {
            max_connections: self.http_max_connections,
            header_timeout: std::time::Duration::from_millis(self.http_header_timeout_ms),
            max_header_bytes: self.http_max_header_bytes,
            max_body_bytes: self.http_max_body_bytes,
        }
    }

    pub fn orders_url(&self) -> String {
        format!("{}/orders", self.orders_api_url.trim_end_matches('/'))
    }
}
