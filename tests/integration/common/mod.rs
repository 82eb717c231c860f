//! Starts real things for the integration tests: the embedded broker on port 0, or a real
//! Kafka named by `KAFKA_BROKERS`.

pub mod process;
pub mod stream;
pub mod wire;

use broker::{Broker, BrokerConfig, BrokerHandle};

pub struct TestBroker {
    embedded: Option<BrokerHandle>,
    /// How to start the embedded broker again (same port, same data) after `stop_for_restart`.
    config: Option<BrokerConfig>,
    bootstrap: String,
    /// The share of the real Kafka this test holds (see [`RealKafka`]).
    _real: Option<RealKafka>,
}

/// The tests of one binary run side by side on one real Kafka, and some stop or kill it: those
/// hold it alone, the others share it, so a restart never hits another test's stream.
static REAL_KAFKA: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub enum RealKafka {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

impl RealKafka {
    /// A share of the real Kafka, waiting while a test holds it alone.
    pub fn shared() -> Self {
        Self::Shared(REAL_KAFKA.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn alone() -> Self {
        Self::Alone(REAL_KAFKA.write().unwrap_or_else(|p| p.into_inner()))
    }
}

impl TestBroker {
    /// The Kafka in `KAFKA_BROKERS` if set, else an in-memory embedded broker on a free port.
    pub async fn start() -> Self {
        Self::real_or_embedded(BrokerConfig::ephemeral(), RealKafka::shared).await
    }

    /// As [`Self::start`], for a test that stops or kills (part of) the real Kafka: no other
    /// test runs on it meanwhile.
    pub async fn alone() -> Self {
        Self::real_or_embedded(BrokerConfig::ephemeral(), RealKafka::alone).await
    }

    /// The broker of `KAFKA_BROKERS` (restarted with `KAFKA_CONTROL stop|resume`, alone), or
    /// an embedded one keeping its data in `dir`, so a restart finds it again.
    pub async fn restartable(dir: &std::path::Path) -> Self {
        Self::real_or_embedded(kept_in(dir), RealKafka::alone).await
    }

    /// Always a built-in broker keeping its data in `dir`, whichever Kafka the other tests
    /// run on: for tests about its own files.
    pub async fn embedded_in(dir: &std::path::Path) -> Self {
        Self::embedded(kept_in(dir)).await
    }

    async fn real_or_embedded(config: BrokerConfig, hold: fn() -> RealKafka) -> Self {
        init_logs();
        match real_kafka() {
            Some(bootstrap) => Self {
                embedded: None,
                config: None,
                bootstrap,
                _real: Some(tokio::task::block_in_place(hold)),
            },
            None => Self::embedded(config).await,
        }
    }

    pub async fn embedded(config: BrokerConfig) -> Self {
        let handle = Broker::start(config.clone())
            .await
            .expect("embedded broker starts");
        // A restart must come back on the same port, with the same data.
        let config = BrokerConfig {
            listen: handle.addr(),
            ..config
        };
        Self {
            bootstrap: handle.bootstrap(),
            embedded: Some(handle),
            config: Some(config),
            _real: None,
        }
    }

    /// Runs the script in `KAFKA_CONTROL` (fixtures/kafka/kafka.sh, or the cluster's
    /// cluster.sh, which also takes `kill N` and `resume N`) with `args`.
    pub fn control(args: &[&str]) {
        let script = std::env::var("KAFKA_CONTROL")
            .expect("KAFKA_CONTROL names the script that stops and resumes KAFKA_BROKERS");
        let status = std::process::Command::new(script)
            .args(args)
            .status()
            .expect("run KAFKA_CONTROL");
        assert!(status.success(), "KAFKA_CONTROL {args:?} failed");
    }

    /// Stops the broker, keeping its data, until `resume`.
    pub async fn pause(&mut self) {
        match self.embedded.take() {
            Some(handle) => handle.shutdown().await,
            None => Self::control(&["stop"]),
        }
    }

    pub async fn resume(&mut self) {
        match &self.config {
            Some(config) => {
                self.embedded = Some(
                    Broker::start(config.clone())
                        .await
                        .expect("embedded broker restarts"),
                )
            }
            None => Self::control(&["resume"]),
        }
    }

    /// The embedded broker's counters (connections accepted so far, requests).
    pub fn stats(&self) -> broker::Stats {
        self.embedded
            .as_ref()
            .map(BrokerHandle::stats)
            .expect("an embedded broker")
    }

    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    pub async fn stop(self) {
        if let Some(handle) = self.embedded {
            handle.shutdown().await;
        }
    }
}

/// The built-in broker's test settings, with its data kept in `dir`.
fn kept_in(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: Some(dir.to_path_buf()),
        ..BrokerConfig::ephemeral()
    }
}

/// A consumer client in `group`, reading from the earliest offset, committing only when told.
pub fn group_config(bootstrap: &str, group: &str) -> rdkafka::ClientConfig {
    let mut config = client_config(bootstrap);
    config
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000");
    config
}

/// A consumer of the dead-letter topic of the services with settings `s`.
pub fn dead_letter_reader(brokers: &str, s: &Settings) -> rdkafka::consumer::StreamConsumer {
    use rdkafka::consumer::Consumer;
    let dlq: rdkafka::consumer::StreamConsumer = client_config(brokers)
        .set("group.id", format!("dlq-reader-{}", s.kafka.group))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    dlq.subscribe(&[&format!("{}.dlq", s.kafka.topic)])
        .expect("subscribe");
    dlq
}

/// The client properties of the real Kafka (`KAFKA_PROPERTIES`: a file of `key=value`
/// lines, e.g. SASL_SSL settings), or none.
pub fn kafka_properties() -> Vec<(String, String)> {
    let Ok(path) = std::env::var("KAFKA_PROPERTIES") else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(&path).expect("KAFKA_PROPERTIES names a readable file");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key=value");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// A librdkafka configuration for `bootstrap`, with the real Kafka's client properties when
/// that is the Kafka it points at.
pub fn client_config(bootstrap: impl AsRef<str>) -> rdkafka::ClientConfig {
    let bootstrap = bootstrap.as_ref();
    let mut config = rdkafka::ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    if real_kafka().as_deref() == Some(bootstrap) {
        for (k, v) in kafka_properties() {
            config.set(k, v);
        }
    }
    config
}

/// Creates `topic` with `partitions` and the cluster's default replication factor (clusters
/// that do not create topics on first use, like the SASL_SSL one, need this).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        client_config(bootstrap).create().expect("admin");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let results = admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// A header of a consumed message as text; empty when it is absent.
pub fn header(message: &impl rdkafka::Message, name: &str) -> String {
    use rdkafka::message::Headers;
    message
        .headers()
        .and_then(|h| h.iter().find(|h| h.key == name))
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// The real Kafka to test against, if `KAFKA_BROKERS` names one.
pub fn real_kafka() -> Option<String> {
    std::env::var("KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.is_empty())
}

/// Logs from the code under test, shown for failing tests; `RUST_LOG` picks the level.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

use std::time::Duration;

use kafka_orders::app::{self, Running, Services};
use std::net::SocketAddr;

use kafka_orders::config::Settings;

/// Settings for services on free ports, with a topic and group of their own, so tests
/// sharing one real Kafka do not see each other's orders.
pub fn settings(bootstrap: &str, name: &str) -> Settings {
    let unique = format!("{name}-{}", uuid::Uuid::new_v4().simple());
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut s = Settings::default();
    s.kafka.brokers = bootstrap.to_string();
    if real_kafka().as_deref() == Some(bootstrap) {
        s.kafka.properties = kafka_properties().into_iter().collect();
    }
    s.kafka.topic = format!("orders-{unique}");
    s.kafka.group = format!("group-{unique}");
    s.producer.listen = any_port;
    s.orders_api.listen = any_port;
    s.consumer.listen = any_port;
    s.console.listen = any_port;
    s.broker.listen = any_port;
    s
}

/// The services of `kafka-orders` started in this process, on the ports their settings
/// name (free ones from [`settings`]), with the base URL of each one started.
pub struct TestApp {
    pub producer: String,
    pub api: String,
    pub consumer: String,
    pub console: String,
    /// The Kafka bootstrap address the services use.
    pub brokers: String,
    running: Running,
}

impl TestApp {
    /// With `TEST_ORDERS_DATABASE_URL`, an Orders API without a data folder keeps its orders
    /// in a database of its own on that PostgreSQL server: the suite run on the third store.
    pub async fn start(mut settings: Settings, services: Services) -> Self {
        init_logs();
        if let Ok(url) = std::env::var("TEST_ORDERS_DATABASE_URL") {
            if settings.storage.data_dir.is_none() && settings.storage.database_url.is_none() {
                let scratch = kafka_orders::database::scratch(&url).await;
                settings.storage.database_url = Some(scratch.expect("a scratch database"));
            }
        }
        let running = app::start(settings, services)
            .await
            .expect("services start");
        let base =
            |addr: Option<SocketAddr>| addr.map_or_else(String::new, |a| format!("http://{a}"));
        Self {
            producer: base(running.producer_addr),
            api: base(running.orders_api_addr),
            consumer: base(running.consumer_addr),
            console: base(running.console_addr),
            brokers: running.brokers.clone(),
            running,
        }
    }

    /// Stops the services gracefully; each must stop without an error.
    pub async fn stop(self) {
        self.running.stop().await.expect("a clean stop");
    }
}

pub fn seed_order() -> serde_json::Value {
    serde_json::json!({
        "userId": "user123",
        "products": [{ "id": "prod-1", "name": "Product 1", "price": 19.99, "quantity": 2 }],
        "totalAmount": 39.98
    })
}

/// Polls `check` every 50 ms until it returns Some, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every order the Orders API holds, newest first.
pub async fn orders(api: &str) -> Vec<serde_json::Value> {
    try_orders(api).await.expect("GET /orders")
}

/// Every order the Orders API holds, page after page as each page's `Link: rel="next"` says.
/// Pages of 1000 (the most): up to that many orders come in one answer, one snapshot, whereas
/// an order stored between two pages shifts the next one (paging is by offset, newest first)
/// and the order at the edge would be counted twice.
pub async fn try_orders(api: &str) -> reqwest::Result<Vec<serde_json::Value>> {
    let mut url = reqwest::Url::parse(&format!("{api}/orders?limit=1000")).expect("url");
    let mut all = Vec::new();
    loop {
        let response = reqwest::get(url.clone()).await?.error_for_status()?;
        let next = next_link(&response).map(|link| url.join(&link).expect("a URL in Link"));
        all.extend(response.json::<Vec<serde_json::Value>>().await?);
        match next {
            Some(next) => url = next,
            None => return Ok(all),
        }
    }
}

/// The target of a response's `Link: <…>; rel="next"`, if it has one.
pub fn next_link(response: &reqwest::Response) -> Option<String> {
    let links = response
        .headers()
        .get(reqwest::header::LINK)?
        .to_str()
        .ok()?;
    let next = links.split(',').find(|l| l.contains("rel=\"next\""))?;
    let (_, target) = next.split_once('<')?;
    target.split_once('>').map(|(target, _)| target.to_string())
}

/// Waits (at most 20 s) until the Orders API holds `n` orders, then a little longer, and
/// checks that it holds exactly `n` distinct ones: each order stored once, none twice.
pub async fn exactly_once(api: &str, n: usize) {
    eventually(20, || async {
        (orders(api).await.len() >= n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = orders(api).await;
    let mut ids: Vec<&str> = all.iter().map(|o| o["id"].as_str().expect("id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((all.len(), ids.len()), (n, n), "every order exactly once");
}

/// Waits (at most 60 s) until the consumer group is Stable with `n` members.
pub async fn group_members(bootstrap: &str, group: &str, n: usize) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let probe: BaseConsumer = crate::common::client_config(bootstrap)
        .create()
        .expect("client");
    eventually(60, || {
        let list = probe.fetch_group_list(Some(group), Duration::from_secs(5));
        async move {
            let list = list.ok()?;
            let g = list.groups().first()?;
            (g.state() == "Stable" && g.members().len() == n).then_some(())
        }
    })
    .await;
}

impl std::ops::Deref for TestApp {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.running
    }
}
