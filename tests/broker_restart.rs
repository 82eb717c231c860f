//! The producer while its Kafka is stopped and started again: 503 with Retry-After while it
//! is down (never a 202 for an order Kafka did not take), 202 again once it is back, and
//! every acknowledged order consumed. Against real Kafka this needs `KAFKA_CONTROL`
//! (scripts/test.sh sets it to fixtures/kafka/kafka.sh); it is alone in its test binary so
//! no other test sees the broker go away.

mod common;

use std::time::Duration;

use kafka_orders::app::Services;
use reqwest::StatusCode;

use common::{eventually, orders, seed_order, settings, start, url, TestBroker};

async fn post(producer: &str) -> reqwest::Response {
    reqwest::Client::new().post(format!("{producer}/orders")).json(&seed_order()).send().await.expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_answers_503_while_kafka_is_down_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::restartable(dir.path()).await;
    let mut s = settings(&broker.bootstrap(), "restart");
    s.publish_timeout_ms = 2_000;
    let app = start(s, Services::All).await;
    let (producer, api) = (url(app.producer_addr, ""), url(app.orders_api_addr, ""));
    let mut accepted = 0;
    for _ in 0..5 {
        assert_eq!(post(&producer).await.status(), StatusCode::ACCEPTED);
        accepted += 1;
    }

    broker.pause().await;
    let down = post(&producer).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key("retry-after"));
    assert_eq!(down.headers()["content-type"], "application/problem+json");

    broker.resume().await;
    let response = eventually(60, || async {
        let r = post(&producer).await;
        (r.status() == StatusCode::ACCEPTED).then_some(r)
    })
    .await;
    accepted += 1;
    drop(response);
    for _ in 0..5 {
        assert_eq!(post(&producer).await.status(), StatusCode::ACCEPTED);
        accepted += 1;
    }
    // Every 202 reaches the Orders API; a 503 may still arrive later (Kafka may have taken the
    // write after the producer gave up waiting), which at-least-once allows.
    eventually(60, || async { (orders(&api).await.len() >= accepted).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.stop().await.expect("clean stop");
    broker.stop().await;
}
