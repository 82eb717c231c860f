//! The console (:8080): topics, messages, consumer groups, a produce form, the orders, and the
//! broker, in server-rendered pages that need no script except for live follow. It talks to
//! Kafka through the Kafka protocol only, so it works the same on a real cluster.

mod committed;
mod error;
mod group_ops;
mod guard;
mod kafka;
mod log_dirs;
mod pages;
mod redrive;
mod topic_configs;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use rdkafka::admin::AdminClient;
use rdkafka::producer::FutureProducer;

use crate::kafka::{Context, Kafka};

pub struct Console {
    kafka: Kafka,
    /// Replicas of the topics it creates (-1: the cluster's default).
    replication_factor: i32,
    admin: AdminClient<Context>,
    producer: FutureProducer<Context>,
    orders_api: Option<String>,
    /// Refuses and hides every change.
    read_only: bool,
    /// Put in every form and required back (see [`guard`]).
    csrf_token: String,
    /// The built-in broker's counters, when it runs in this process.
    embedded: Option<broker::StatsSource>,
    started: Instant,
    http: reqwest::Client,
    /// Held by a dead-letter redrive while it reads and writes the ledger (see [`redrive`]).
    redrive_lock: tokio::sync::Mutex<()>,
}

impl Console {
    pub fn new(
        kafka: &Kafka,
        replication_factor: i32,
        read_only: bool,
        orders_api: Option<String>,
        embedded: Option<broker::StatsSource>,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            kafka: kafka.quiet(),
            replication_factor,
            admin: kafka.create(&kafka.config("kafka-orders-console"))?,
            producer: kafka.create(
                kafka
                    .config("kafka-orders-console")
                    .set("message.timeout.ms", "5000"),
            )?,
            orders_api,
            read_only,
            csrf_token: uuid::Uuid::new_v4().simple().to_string(),
            embedded,
            started: Instant::now(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?,
            redrive_lock: tokio::sync::Mutex::new(()),
        }))
    }
}

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/topics", get(pages::topics).post(pages::create_topic))
        .route("/topics/{name}", get(pages::topic))
        .route("/topics/{name}/live", get(pages::live))
        .route("/topics/{name}/export", get(pages::export))
        .route("/topics/{name}/produce", post(pages::produce))
        .route("/topics/{name}/delete", post(pages::delete_topic))
        .route(
            "/topics/{name}/settings",
            get(pages::topic_settings).post(pages::alter_retention),
        )
        .route("/topics/{name}/partitions", post(pages::add_partitions))
        .route("/groups", get(pages::groups))
        .route("/groups/{name}", get(pages::group))
        .route(
            "/groups/{name}/reset",
            get(pages::reset_preview).post(pages::reset),
        )
        .route("/groups/{name}/offsets/delete", post(pages::delete_offsets))
        .route("/groups/{name}/delete", post(pages::delete_group))
        .route("/orders", get(pages::orders))
        .route("/dead-letters", get(pages::dead_letters))
        .route("/dead-letters/redrive", post(pages::redrive))
        .route(
            "/assets/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css")],
                    include_str!("assets/style.css"),
                )
            }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    include_str!("assets/app.js"),
                )
            }),
        )
        .route("/healthz", get(crate::http::healthz))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            guard::guard,
        ))
        .with_state(console)
}
