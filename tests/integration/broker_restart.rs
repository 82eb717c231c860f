//! The broker stopped and started again while orders stream in: the producer answers 503 with
//! Retry-After while it is down (never a 202 for an order Kafka did not take), 202 again once
//! it is back, and every acknowledged order reaches the Orders API exactly once. The embedded
//! broker restarts from its `--data-dir`; against real Kafka this needs `KAFKA_CONTROL`
//! (scripts/test.sh sets it to fixtures/kafka/kafka.sh). Alone in its test binary so no other
//! test sees the broker go away.

use std::time::{Duration, Instant};

use kafka_orders::app::Services;
use reqwest::StatusCode;

use crate::common::stream::OrderStream;
use crate::common::{seed_order, settings, TestApp, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_while_producing_loses_no_acknowledged_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::restartable(dir.path()).await;
    let mut s = settings(&broker.bootstrap(), "restart");
    s.producer.publish_timeout = Duration::from_secs(2);
    let app = TestApp::start(s, Services::All).await;
    let (producer, api) = (app.producer.clone(), app.api.clone());
    let stream = OrderStream::start(&producer, 50);
    stream.until_acknowledged(50, 30).await;

    broker.pause().await;
    let down = reqwest::Client::new()
        .post(format!("{producer}/orders"))
        .json(&seed_order())
        .send()
        .await
        .expect("POST");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key("retry-after"));
    assert_eq!(down.headers()["content-type"], "application/problem+json");
    tokio::time::sleep(Duration::from_secs(1)).await;

    broker.resume().await;
    let back = Instant::now();
    stream.until_acknowledged(50, 60).await;
    // A 503 may still be stored later (Kafka may have taken the write after the producer gave
    // up waiting), which at-least-once allows; what must hold is every 202 exactly once.
    let report = stream.finish(&api, back, 60).await;
    assert!(
        report.sent > report.acknowledged,
        "orders were refused while the broker was down: {report:?}"
    );
    app.stop().await;
    broker.stop().await;
}
