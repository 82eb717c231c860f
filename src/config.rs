//! Settings, layered with figment: built-in defaults < `kafka-orders.toml` <
//! `KAFKA_ORDERS_*` environment variables < command-line flags.
//!
//! Keys are flat (`producer_listen`, `KAFKA_ORDERS_PRODUCER_LISTEN`), while [`Settings`] groups
//! them by what they configure. Each group is read from the same layered figment, so an error
//! names its key and the layer it came from; a key that no group knows is refused. Every value
//! is parsed into its type here, once, at start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::auth::Tokens;
pub use crate::http_server::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// What every Kafka client of this process is pointed at.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaSettings {
    /// Bootstrap servers (ignored with `embedded`).
    pub brokers: String,
    pub topic: String,
    pub group: String,
    /// Partitions of the orders topic when this program creates it (and of topics the
    /// built-in broker creates).
    pub partitions: i32,
    /// Replicas of the topics this program creates; -1: the cluster's default.
    pub replication_factor: i32,
    /// librdkafka properties for every client (`-X`, `[kafka]`, `KAFKA_ORDERS_KAFKA_*`).
    #[serde(rename = "kafka")]
    pub properties: crate::kafka::Properties,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProducerSettings {
    #[serde(rename = "producer_listen")]
    pub listen: SocketAddr,
    /// How long `POST /orders` waits for Kafka to acknowledge before answering 503.
    #[serde(rename = "publish_timeout_ms", with = "millis")]
    pub publish_timeout: Duration,
    /// Default wait for `POST /orders?wait=true` before answering 504.
    #[serde(rename = "reply_timeout_ms", with = "millis")]
    pub reply_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerSettings {
    /// The consumer's own HTTP port: `/healthz`, `/readyz` (partitions assigned), `/metrics`.
    #[serde(rename = "consumer_listen")]
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrdersApiSettings {
    #[serde(rename = "orders_api_listen")]
    pub listen: SocketAddr,
    /// Where the consumer sends orders, the base of the producer's `Location` header, and
    /// where the console reads statistics.
    #[serde(rename = "orders_api_url")]
    pub url: url::Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsoleSettings {
    /// The console (topics, messages, groups, orders); served with the other services.
    #[serde(rename = "console_listen")]
    pub listen: SocketAddr,
    /// Shows Kafka without letting anyone change it: no forms, every change refused.
    #[serde(rename = "console_read_only")]
    pub read_only: bool,
}

/// The built-in broker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrokerSettings {
    /// Start the built-in broker in this process and use it.
    pub embedded: bool,
    #[serde(rename = "broker_listen")]
    pub listen: SocketAddr,
    /// `host:port` it advertises (for containers); default: its bound address.
    #[serde(rename = "broker_advertised")]
    pub advertised: Option<String>,
    /// Whether it creates a topic on its first Metadata request.
    pub auto_create_topics: bool,
    /// Open client connections at most.
    #[serde(rename = "broker_max_connections")]
    pub max_connections: usize,
    /// Largest request frame; a larger one closes the connection.
    #[serde(rename = "broker_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// Partitions across all topics at most (CreateTopics past it: POLICY_VIOLATION).
    #[serde(rename = "broker_max_partitions")]
    pub max_partitions: usize,
    /// Segment files kept open at most; past it a partition opens its file per append.
    #[serde(rename = "broker_max_open_segments")]
    pub max_open_segments: usize,
    /// Bytes of records the built-in broker holds at most (it serves fetches from memory);
    /// past it the oldest segments of the largest partitions are deleted.
    #[serde(rename = "broker_max_memory_bytes")]
    pub max_memory_bytes: u64,
    /// How long a segment is kept after its newest record (Kafka's `log.retention.ms`).
    #[serde(rename = "broker_retention_ms")]
    pub retention_ms: i64,
    /// How long an empty group keeps its committed offsets (Kafka's `offsets.retention.minutes`).
    #[serde(rename = "broker_offsets_retention_minutes")]
    pub offsets_retention_minutes: u64,
}

/// Where data is kept and how hard it is pushed to the disk.
#[derive(Clone, Serialize, Deserialize)]
pub struct StorageSettings {
    /// The built-in broker's log and group offsets (`broker/`) and the Orders API's orders
    /// (`orders-api/orders.db`). `None`: everything in memory.
    pub data_dir: Option<PathBuf>,
    /// never, always, or an interval such as 1000ms (the broker's background fsync).
    #[serde(with = "fsync")]
    pub fsync: broker::FsyncPolicy,
    /// PostgreSQL for the Orders API's orders and the producers' Idempotency-Key answers,
    /// shared by every instance (`postgres://user:password@host:port/database`). Takes the
    /// place of `data_dir` for the orders.
    pub database_url: Option<String>,
    /// A file holding `database_url` (a Docker or Kubernetes secret), so that its password is
    /// not in the environment.
    pub database_url_file: Option<PathBuf>,
    /// The CA the database server's certificate must chain to, its host name checked too
    /// (libpq's verify-full); without it TLS encrypts without checking (libpq's require).
    pub database_ca_file: Option<PathBuf>,
    /// Connections to it each process keeps at most.
    pub database_pool_size: usize,
}

impl StorageSettings {
    /// Takes `database_url` from `database_url_file` when that is set.
    fn read_database_url(&mut self) -> anyhow::Result<()> {
        if self.database_url.as_deref() == Some("") {
            self.database_url = None;
        }
        let Some(path) = &self.database_url_file else {
            return Ok(());
        };
        if self.database_url.is_some() {
            anyhow::bail!(
                "invalid configuration: database_url and database_url_file are both set; keep one"
            );
        }
        let url = std::fs::read_to_string(path).map_err(|err| {
            anyhow::anyhow!(
                "invalid configuration: database_url_file: cannot read {}: {err}",
                path.display()
            )
        })?;
        self.database_url = Some(url.trim().to_string());
        Ok(())
    }

    /// Whether every change must reach the disk before it is acknowledged.
    pub fn sync_every_write(&self) -> bool {
        self.fsync == broker::FsyncPolicy::Always
    }
}

/// Host names the HTTP services answer to besides `localhost`, IP addresses and the host of
/// `orders_api_url` (see [`crate::hosts`]): a list, or one string with commas; `*` for any.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostSettings {
    #[serde(deserialize_with = "names")]
    pub allowed_hosts: Vec<String>,
}

fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        One(String),
        Many(Vec<String>),
    }
    let names = match Names::deserialize(d)? {
        Names::One(text) => text.split(',').map(str::to_string).collect(),
        Names::Many(names) => names,
    };
    Ok(names
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect())
}

/// Bearer tokens (see [`crate::auth`]): `api_tokens` (a list, or one string with commas) and
/// `api_tokens_file` (one token a line). Read once, into [`Settings::tokens`].
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AuthSettings {
    #[serde(deserialize_with = "names")]
    api_tokens: Vec<String>,
    api_tokens_file: Option<PathBuf>,
}

/// Without `database_url`, which holds a password.
impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("data_dir", &self.data_dir)
            .field("fsync", &self.fsync)
            .field("database_url", &self.database_url.as_ref().map(|_| "(set)"))
            .field("database_url_file", &self.database_url_file)
            .field("database_ca_file", &self.database_ca_file)
            .field("database_pool_size", &self.database_pool_size)
            .finish()
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("api_tokens", &format!("{} set", self.api_tokens.len()))
            .field("api_tokens_file", &self.api_tokens_file)
            .finish()
    }
}

impl AuthSettings {
    fn tokens(&self) -> anyhow::Result<Tokens> {
        let mut tokens = self.api_tokens.clone();
        if let Some(path) = &self.api_tokens_file {
            let text = std::fs::read_to_string(path).map_err(|err| {
                anyhow::anyhow!(
                    "invalid configuration: api_tokens_file: cannot read {}: {err}",
                    path.display()
                )
            })?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        if let Some(short) = tokens.iter().find(|t| t.len() < 16) {
            anyhow::bail!(
                "invalid configuration: api tokens must be at least 16 characters long; one is {}",
                short.len()
            );
        }
        Ok(Tokens::new(tokens))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogSettings {
    log_format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub producer: ProducerSettings,
    pub consumer: ConsumerSettings,
    pub orders_api: OrdersApiSettings,
    pub console: ConsoleSettings,
    pub broker: BrokerSettings,
    pub storage: StorageSettings,
    /// Limits of every HTTP service.
    pub http: Limits,
    pub hosts: HostSettings,
    pub auth: AuthSettings,
    /// The tokens of `auth`, read at start.
    pub tokens: Tokens,
    pub log_format: LogFormat,
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Default for Settings {
    fn default() -> Self {
        // The built-in broker's limits are its own defaults (Kafka's, where Kafka has one).
        let built_in = broker::BrokerConfig::default();
        Self {
            kafka: KafkaSettings {
                brokers: "localhost:9092".into(),
                topic: "orders-topic".into(),
                group: "orders-consumer".into(),
                partitions: 3,
                replication_factor: -1,
                properties: crate::kafka::Properties::default(),
            },
            producer: ProducerSettings {
                listen: local(3001),
                publish_timeout: Duration::from_secs(5),
                reply_timeout: Duration::from_secs(10),
            },
            consumer: ConsumerSettings {
                listen: local(3002),
            },
            orders_api: OrdersApiSettings {
                listen: local(3003),
                url: url::Url::parse("http://localhost:3003").expect("a valid URL"),
            },
            console: ConsoleSettings {
                listen: local(8080),
                read_only: false,
            },
            broker: BrokerSettings {
                embedded: false,
                listen: local(9092),
                advertised: None,
                auto_create_topics: true,
                max_connections: built_in.max_connections,
                max_frame_bytes: built_in.max_frame_bytes,
                max_partitions: built_in.max_partitions,
                max_open_segments: built_in.max_open_segments,
                offsets_retention_minutes: built_in.offsets_retention.as_secs() / 60,
                max_memory_bytes: built_in.max_memory_bytes,
                retention_ms: built_in.retention_ms,
            },
            storage: StorageSettings {
                data_dir: None,
                fsync: broker::FsyncPolicy::Never,
                database_url: None,
                database_url_file: None,
                database_ca_file: None,
                database_pool_size: 16,
            },
            http: Limits {
                max_connections: 1_000,
                header_timeout: Duration::from_secs(10),
                max_header_bytes: 64 * 1024,
                max_body_bytes: 1024 * 1024,
            },
            hosts: HostSettings::default(),
            auth: AuthSettings::default(),
            tokens: Tokens::default(),
            log_format: LogFormat::Human,
        }
    }
}

const ENV_PREFIX: &str = "KAFKA_ORDERS_";

/// Whether a variable is one of those Kubernetes puts in every pod for each Service (its
/// "service links"): for a Service named `kafka-orders`, `KAFKA_ORDERS_SERVICE_HOST`,
/// `KAFKA_ORDERS_SERVICE_PORT[_NAME]`, `KAFKA_ORDERS_PORT=tcp://…` and
/// `KAFKA_ORDERS_PORT_3001_TCP[_PROTO|_PORT|_ADDR]`. They are not settings: left out, not
/// refused as unknown ones, or the process would not start in such a pod.
fn kubernetes_service_link(name: &str, value: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let parts: Vec<&str> = name.split('_').collect();
    let service = parts
        .windows(2)
        .position(|w| w == ["SERVICE", "HOST"] || w == ["SERVICE", "PORT"]);
    match service {
        Some(at) if parts[at + 1] == "HOST" => return at + 2 == parts.len(),
        Some(_) => return true,
        None => {}
    }
    if name.ends_with("_PORT")
        && ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|scheme| value.starts_with(scheme))
    {
        return true;
    }
    // …_PORT_<number>_<protocol>[_PROTO|_PORT|_ADDR]
    parts.iter().enumerate().any(|(at, part)| {
        let rest = &parts[at + 1..];
        *part == "PORT"
            && rest.len() >= 2
            && rest[0].bytes().all(|b| b.is_ascii_digit())
            && ["TCP", "UDP", "SCTP"].contains(&rest[1])
            && (rest.len() == 2
                || (rest.len() == 3 && ["PROTO", "PORT", "ADDR"].contains(&rest[2])))
    })
}

/// Calls `$each!(field)` for every group of [`Settings`], so that the groups are listed once.
macro_rules! groups {
    ($each:ident) => {
        $each!(kafka);
        $each!(producer);
        $each!(consumer);
        $each!(orders_api);
        $each!(console);
        $each!(broker);
        $each!(storage);
        $each!(http);
        $each!(hosts);
        $each!(auth);
    };
}

impl Settings {
    /// Loads the layers; `flags` are the command-line flags given (see [`given`]).
    pub fn load(file: &Path, flags: &[Dict]) -> anyhow::Result<Self> {
        let defaults = Self::default().layer();
        let known: BTreeSet<String> = defaults.extract::<Dict>()?.into_keys().collect();
        let (vars, service_links): (Vec<_>, Vec<_>) =
            std::env::vars().partition(|(name, value)| !kubernetes_service_link(name, value));
        let service_links: BTreeSet<String> = service_links
            .into_iter()
            .filter_map(|(name, _)| Some(name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase()))
            .collect();
        // `KAFKA_ORDERS_KAFKA_*` are client properties, whose names have dots: a layer of
        // their own, right above the other variables.
        let properties = BTreeMap::from([(
            "kafka",
            crate::kafka::Properties::from_env(vars.into_iter()),
        )]);
        let mut figment = defaults
            .merge(Toml::file(file))
            .merge(Env::prefixed(ENV_PREFIX).filter(move |key| {
                let key = key.as_str().to_ascii_lowercase();
                !key.starts_with("kafka_") && !service_links.contains(&key)
            }))
            .merge(Serialized::defaults(properties));
        for layer in flags {
            figment = figment.merge(Serialized::defaults(layer));
        }
        let invalid = |err: figment::Error| anyhow::anyhow!("invalid configuration: {err}");
        if let Some(key) = figment
            .extract::<Dict>()
            .map_err(invalid)?
            .into_keys()
            .find(|key| !known.contains(key))
        {
            let from = figment
                .find_metadata(&key)
                .map_or_else(String::new, |m| format!(" (from {})", m.name));
            anyhow::bail!("invalid configuration: unknown setting {key:?}{from}");
        }
        let mut settings = Self {
            log_format: figment
                .extract::<LogSettings>()
                .map_err(invalid)?
                .log_format,
            ..Self::default()
        };
        macro_rules! extract {
            ($group:ident) => {
                settings.$group = figment.extract().map_err(invalid)?;
            };
        }
        groups!(extract);
        settings.tokens = settings.auth.tokens()?;
        settings.storage.read_database_url()?;
        settings.kafka.properties = std::mem::take(&mut settings.kafka.properties)
            .read_files()
            .map_err(|err| anyhow::anyhow!("invalid configuration: {err}"))?;
        settings.check()?;
        Ok(settings)
    }

    /// The settings as the lowest configuration layer.
    fn layer(&self) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(LogSettings {
            log_format: self.log_format,
        }));
        macro_rules! merge {
            ($group:ident) => {
                figment = figment.merge(Serialized::defaults(&self.$group));
            };
        }
        groups!(merge);
        figment
    }

    /// Rules that span more than one value's type.
    fn check(&self) -> anyhow::Result<()> {
        if self.http.max_connections < 1 || self.http.max_header_bytes < 8192 {
            anyhow::bail!("invalid configuration: http_max_connections must be at least 1 and http_max_header_bytes at least 8192");
        }
        if self.kafka.replication_factor == 0 || self.kafka.replication_factor < -1 {
            anyhow::bail!(
                "invalid configuration: replication_factor must be -1 (the cluster's default) or at least 1, not {}",
                self.kafka.replication_factor
            );
        }
        if self.kafka.partitions < 1 {
            anyhow::bail!(
                "invalid configuration: partitions must be at least 1, not {}",
                self.kafka.partitions
            );
        }
        if !matches!(self.orders_api.url.scheme(), "http" | "https") {
            anyhow::bail!(
                "invalid configuration: orders_api_url must be an http or https URL, not {}",
                self.orders_api.url
            );
        }
        Ok(())
    }

    /// The host names every HTTP service answers to.
    pub fn allowed_hosts(&self) -> crate::hosts::AllowedHosts {
        let orders_api = self.orders_api.url.host_str().map(str::to_string);
        crate::hosts::AllowedHosts::new(self.hosts.allowed_hosts.iter().cloned().chain(orders_api))
    }

    /// The Orders API's base URL without a trailing slash.
    pub fn orders_api_base(&self) -> String {
        self.orders_api
            .url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// The Orders API's collection URL.
    pub fn orders_url(&self) -> String {
        format!("{}/orders", self.orders_api_base())
    }
}

/// The flags that were given, as a configuration layer: `flags` serialized, without the
/// options left out (`None`) and the switches not set (`false`), so that only what was typed
/// overrides the other layers.
pub fn given(flags: &impl Serialize) -> anyhow::Result<Dict> {
    let value = Value::serialize(flags)?;
    let dict = value
        .into_dict()
        .ok_or_else(|| anyhow::anyhow!("flags must serialize to a map"))?;
    Ok(dict
        .into_iter()
        .filter(|(_, v)| !matches!(v, Value::Empty(..) | Value::Bool(_, false)))
        .collect())
}

/// A [`Duration`] written as whole milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// [`broker::FsyncPolicy`] written as `never`, `always` or `<N>ms`.
mod fsync {
    use broker::FsyncPolicy;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(policy: &FsyncPolicy, s: S) -> Result<S::Ok, S::Error> {
        match policy {
            FsyncPolicy::Never => s.serialize_str("never"),
            FsyncPolicy::Always => s.serialize_str("always"),
            FsyncPolicy::Interval(every) => s.serialize_str(&format!("{}ms", every.as_millis())),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FsyncPolicy, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, flags: &[Dict]) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("kafka-orders.toml");
        std::fs::write(&file, toml).expect("write");
        Settings::load(&file, flags)
    }

    #[test]
    fn every_default_survives_the_round_trip_through_the_layers() {
        let s = load("", &[]).expect("defaults load");
        assert_eq!(s.kafka.topic, "orders-topic");
        assert_eq!(s.producer.publish_timeout, Duration::from_secs(5));
        assert_eq!(s.http.max_body_bytes, 1024 * 1024);
        assert_eq!(s.storage.fsync, broker::FsyncPolicy::Never);
        assert_eq!(s.orders_url(), "http://localhost:3003/orders");
    }

    #[test]
    fn the_file_sets_values_and_flags_override_it() {
        #[derive(Serialize)]
        struct Flags {
            topic: Option<String>,
            partitions: Option<i32>,
            embedded: bool,
        }
        let flags = given(&Flags {
            topic: Some("from-flag".into()),
            partitions: None,
            embedded: false,
        })
        .expect("flags");
        let s = load(
            "topic = \"from-file\"\npartitions = 7\nembedded = true\nfsync = \"250ms\"\npublish_timeout_ms = 1500\n",
            &[flags],
        )
        .expect("loads");
        assert_eq!(s.kafka.topic, "from-flag", "a flag beats the file");
        assert_eq!(
            s.kafka.partitions, 7,
            "a flag not given leaves the file's value"
        );
        assert!(
            s.broker.embedded,
            "a switch not given leaves the file's value"
        );
        assert_eq!(
            s.storage.fsync,
            broker::FsyncPolicy::Interval(Duration::from_millis(250))
        );
        assert_eq!(s.producer.publish_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn kafka_properties_come_from_the_file_the_environment_and_flags() {
        #[derive(Serialize)]
        struct Flags {
            kafka: BTreeMap<String, String>,
        }
        let flags = given(&Flags {
            kafka: BTreeMap::from([("sasl.username".to_string(), "from-flag".to_string())]),
        })
        .expect("flags");
        let s = load(
            "[kafka]\nsecurity.protocol = \"SASL_SSL\"\n\"sasl.mechanism\" = \"PLAIN\"\nsasl.username = \"from-file\"\n",
            &[flags],
        )
        .expect("loads");
        let p = &s.kafka.properties;
        assert_eq!(p.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(p.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(p.get("sasl.username"), Some("from-flag"));
        assert_eq!(s.kafka.replication_factor, -1);
        let err = load("replication_factor = 0\n", &[]).expect_err("zero replicas");
        assert!(err.to_string().contains("replication_factor"), "{err}");
        let err = load("[kafka]\n\"sasl.password.file\" = \"/no/such/file\"\n", &[])
            .expect_err("missing secret file");
        assert!(err.to_string().contains("sasl.password.file"), "{err}");
    }

    #[test]
    fn bad_values_and_unknown_keys_are_named() {
        let err = load("fsync = \"sometimes\"\n", &[]).expect_err("bad fsync");
        assert!(err.to_string().contains("fsync"), "{err}");
        let err = load("orders_api_url = \"not a url\"\n", &[]).expect_err("bad url");
        assert!(err.to_string().contains("orders_api_url"), "{err}");
        let err = load("orders_api_url = \"ftp://x\"\n", &[]).expect_err("not http");
        assert!(err.to_string().contains("orders_api_url"), "{err}");
        let err = load("api_tokens = \"short\"\n", &[]).expect_err("short token");
        assert!(err.to_string().contains("at least 16"), "{err}");
        let err = load("api_tokens_file = \"/no/tokens\"\n", &[]).expect_err("no file");
        assert!(err.to_string().contains("api_tokens_file"), "{err}");
        let s =
            load("api_tokens = \"aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb\"\n", &[]).expect("two tokens");
        assert_eq!(s.tokens.first(), Some("aaaaaaaaaaaaaaaa"));
        assert!(
            !format!("{s:?}").contains("aaaaaaaaaaaaaaaa"),
            "tokens never show"
        );
        let err = load("partitons = 3\n", &[]).expect_err("typo");
        assert!(
            err.to_string().contains("\"partitons\"") && err.to_string().contains("TOML"),
            "{err}"
        );
    }
}
