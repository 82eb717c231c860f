//! Starts the chosen services in this process and stops them in order.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::{Guarded, Tokens};
use crate::config::Settings;
use crate::hosts::AllowedHosts;
use crate::kafka::{Kafka, TopicError, Wanted};
use crate::producer::ProducerService;
use crate::{console, consumer, database, http_server, kafka, orders_api, producer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// Producer, consumer and Orders API together (with `embedded`, the broker too).
    All,
    Producer,
    Consumer,
    OrdersApi,
    Broker,
    Console,
}

impl Services {
    fn has(self, one: Services) -> bool {
        self == Services::All || self == one
    }
}

/// Everything started by [`start`]; [`Running::stop`] shuts it down gracefully.
pub struct Running {
    /// The Kafka bootstrap address the services use.
    pub brokers: String,
    pub producer_addr: Option<SocketAddr>,
    pub orders_api_addr: Option<SocketAddr>,
    pub consumer_addr: Option<SocketAddr>,
    pub console_addr: Option<SocketAddr>,
    producer: Option<Arc<ProducerService>>,
    limits: http_server::Limits,
    hosts: AllowedHosts,
    tokens: Tokens,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
    /// Last, so that when `Running` is dropped without `stop` (a failed test), the services'
    /// Kafka clients close while the built-in broker still answers them.
    pub broker: Option<broker::BrokerHandle>,
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))
}

fn broker_config(settings: &Settings) -> broker::BrokerConfig {
    let broker = &settings.broker;
    broker::BrokerConfig {
        listen: broker.listen,
        advertised: broker.advertised.clone(),
        default_partitions: settings.kafka.partitions,
        auto_create_topics: broker.auto_create_topics,
        data_dir: settings.storage.data_dir.as_ref().map(|d| d.join("broker")),
        fsync: settings.storage.fsync,
        max_connections: broker.max_connections,
        max_frame_bytes: broker.max_frame_bytes,
        // The request budget must hold the largest frame: a larger frame limit raises it.
        queued_max_request_bytes: broker
            .max_frame_bytes
            .max(broker::BrokerConfig::default().queued_max_request_bytes),
        max_partitions: broker.max_partitions,
        max_open_segments: broker.max_open_segments,
        max_memory_bytes: broker.max_memory_bytes,
        retention_ms: broker.retention_ms,
        offsets_retention: std::time::Duration::from_secs(
            broker.offsets_retention_minutes.saturating_mul(60),
        ),
        ..broker::BrokerConfig::default()
    }
}

/// Makes sure of the orders, reply and dead-letter topics. Settings librdkafka refuses stop
/// the start; an unreachable or refusing cluster is said plainly, and the services start anyway
/// (Kafka may come up, or the topic be created, later; `/readyz` tells until then).
async fn ensure_topics(kafka: &Kafka, settings: &Settings) -> anyhow::Result<()> {
    let (topic, partitions) = (&settings.kafka.topic, settings.kafka.partitions);
    let (reply, dlq) = (kafka::reply_topic(topic), kafka::dlq_topic(topic));
    let wanted = [
        Wanted {
            name: topic,
            partitions,
        },
        Wanted {
            name: &reply,
            partitions: 1,
        },
        Wanted {
            name: &dlq,
            partitions,
        },
    ];
    match kafka::ensure_topics(kafka, &wanted, settings.kafka.replication_factor).await {
        Ok(warnings) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            Ok(())
        }
        Err(err @ TopicError::Settings(_)) => Err(err.into()),
        Err(err) => {
            tracing::error!("{err}");
            Ok(())
        }
    }
}

pub async fn start(mut settings: Settings, services: Services) -> anyhow::Result<Running> {
    crate::metrics::init();
    let broker = if settings.broker.embedded || services == Services::Broker {
        Some(
            broker::Broker::start(broker_config(&settings))
                .await
                .context("the built-in broker did not start")?,
        )
    } else {
        None
    };
    if broker.is_some() && settings.kafka.properties.get("security.protocol").is_some() {
        anyhow::bail!("the built-in broker speaks PLAINTEXT only: leave security.protocol out with --embedded, or point --brokers at a Kafka that speaks it");
    }
    let brokers = broker
        .as_ref()
        .map_or_else(|| settings.kafka.brokers.clone(), |b| b.bootstrap());
    let kafka = Kafka::new(brokers.clone(), settings.kafka.properties.clone());
    let (stop, stop_rx) = watch::channel(false);
    let mut running = Running {
        broker,
        brokers: brokers.clone(),
        producer_addr: None,
        orders_api_addr: None,
        consumer_addr: None,
        console_addr: None,
        producer: None,
        limits: settings.http,
        hosts: settings.allowed_hosts(),
        tokens: settings.tokens.clone(),
        stop,
        tasks: JoinSet::new(),
    };
    if services == Services::Broker {
        return Ok(running);
    }
    if services.has(Services::Producer) || services.has(Services::Consumer) {
        ensure_topics(&kafka, &settings).await?;
    }
    let database = match &settings.storage.database_url {
        Some(url) if services.has(Services::OrdersApi) || services.has(Services::Producer) => {
            let storage = &settings.storage;
            let ca_file = storage.database_ca_file.as_deref();
            Some(database::connect(url, storage.database_pool_size, ca_file).await?)
        }
        _ => None,
    };
    if services.has(Services::OrdersApi) {
        let listener = bind(settings.orders_api.listen, "Orders API").await?;
        let addr = running.serve(
            listener,
            orders_api::app(&settings.storage, database.as_ref())?,
            ("Orders API", Some(Guarded::Changes)),
        )?;
        if services == Services::All && settings.orders_api.listen.port() == 0 {
            settings.orders_api.url = url::Url::parse(&format!("http://{addr}"))?;
        }
        running.orders_api_addr = Some(addr);
    }
    if services.has(Services::Producer) {
        let service =
            ProducerService::start(&settings, &kafka, database.as_ref(), stop_rx.clone())?;
        let listener = bind(settings.producer.listen, "producer").await?;
        running.producer_addr = Some(running.serve(
            listener,
            producer::router(service.clone()),
            ("producer", Some(Guarded::Changes)),
        )?);
        running.producer = Some(service);
    }
    if services.has(Services::Consumer) {
        let state = Arc::new(consumer::ConsumerState::new(kafka.errors.clone()));
        let listener = bind(settings.consumer.listen, "consumer").await?;
        running.consumer_addr = Some(running.serve(
            listener,
            consumer::router(state.clone()),
            ("consumer's probe port", None),
        )?);
        running.tasks.spawn(consumer::run(
            settings.clone(),
            kafka.clone(),
            state,
            stop_rx.clone(),
        ));
    }
    if services.has(Services::Console) {
        let stats = running.broker.as_ref().map(|b| b.stats_source());
        let console = console::Console::new(
            &kafka,
            settings.kafka.replication_factor,
            settings.console.read_only,
            Some(settings.orders_api_base()),
            stats,
        )?;
        let listener = bind(settings.console.listen, "console").await?;
        running.console_addr = Some(running.serve(
            listener,
            console::router(console),
            ("console", Some(Guarded::Everything)),
        )?);
    }
    Ok(running)
}

impl Running {
    /// Serves `router` on `listener` until the stop signal; returns the address.
    /// Every service answers only to the host names of [`crate::hosts`]; `guarded` says what
    /// it asks a token for ([`crate::auth`]).
    fn serve(
        &mut self,
        listener: TcpListener,
        router: axum::Router,
        (name, guarded): (&str, Option<Guarded>),
    ) -> anyhow::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        let stop = self.stop.subscribe();
        let limits = self.limits;
        let router = match guarded {
            Some(guarded) => {
                self.tokens.warn_if_open(name, addr);
                router.layer(axum::middleware::from_fn_with_state(
                    (self.tokens.clone(), guarded),
                    crate::auth::require,
                ))
            }
            None => router,
        };
        let router = router.layer(axum::middleware::from_fn_with_state(
            self.hosts.clone(),
            crate::hosts::check,
        ));
        self.tasks
            .spawn(async move { Ok(http_server::serve(listener, router, limits, stop).await?) });
        Ok(addr)
    }

    /// Where each part listens, for the start-up banner.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(b) = &self.broker {
            lines.push(format!("Kafka broker (built in): {}", b.bootstrap()));
        } else {
            lines.push(format!("Kafka: {}", self.brokers));
        }
        if let Some(a) = self.producer_addr {
            lines.push(format!("Producer:   http://{a}  (POST /orders)"));
        }
        if let Some(a) = self.orders_api_addr {
            lines.push(format!(
                "Orders API: http://{a}  (GET /orders, /orders/stats, /orders/:id; PATCH, DELETE)"
            ));
        }
        if let Some(a) = self.consumer_addr {
            lines.push(format!("Consumer:   http://{a}  (GET /readyz, /metrics)"));
        }
        if let Some(a) = self.console_addr {
            lines.push(format!(
                "Console:    http://{a}  (topics, messages, consumer groups, orders)"
            ));
        }
        lines
    }

    /// Stops taking requests, lets consumers commit and leave, flushes the producer, then
    /// stops the built-in broker. Returns the first error a service ended with.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut first_error = None;
        while let Some(result) = self.tasks.join_next().await {
            if let Err(err) = result.map_err(anyhow::Error::from).and_then(|r| r) {
                first_error.get_or_insert(err);
            }
        }
        if let Some(producer) = self.producer.take() {
            producer.flush().await;
        }
        if let Some(broker) = self.broker.take() {
            broker.shutdown().await;
        }
        first_error.map_or(Ok(()), Err)
    }
}
