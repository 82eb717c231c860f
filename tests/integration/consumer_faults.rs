//! A consumer killed with SIGKILL in the middle of a stream of orders (no LeaveGroup, no
//! commit): the group coordinator evicts it when its session times out, the survivor takes its
//! partitions, and every order arrives once. Then it is started again and rejoins.
//!
//! And a consumer whose Kafka has gone still stops when asked.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::process::Process;
use crate::common::stream::OrderStream;
use crate::common::{group_members, settings, TestApp, TestBroker};
use kafka_orders::app::Services;
use kafka_orders::config::Settings;

fn consumer_process(s: &Settings, api: &str) -> Process {
    // The Kafka client properties go in as variables, the way a container is configured.
    let properties = s.kafka.properties.iter().map(|(k, v)| {
        let name = format!("KAFKA_ORDERS_KAFKA_{}", k.replace('.', "_").to_uppercase());
        (name, v.to_string())
    });
    Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_kafka-orders"))
            .arg("consumer")
            .envs(properties)
            .env("KAFKA_ORDERS_BROKERS", &s.kafka.brokers)
            .env("KAFKA_ORDERS_TOPIC", &s.kafka.topic)
            .env("KAFKA_ORDERS_GROUP", &s.kafka.group)
            .env("KAFKA_ORDERS_ORDERS_API_URL", api)
            .env("KAFKA_ORDERS_CONSUMER_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_is_evicted_and_nothing_is_lost() {
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "kill");
    let app = TestApp::start(s.clone(), Services::All).await;
    let (producer, api) = (app.producer.clone(), app.api.clone());
    let mut other = consumer_process(&s, &api);
    group_members(&app.brokers, &s.kafka.group, 2).await;
    let stream = OrderStream::start(&producer, 50);
    stream.until_acknowledged(50, 30).await;

    other.kill_9();
    // The orders on the dead member's partitions wait for its eviction (session timeout 10 s);
    // then it is started again and rejoins while the stream goes on.
    stream.until_acknowledged(100, 30).await;
    let again = consumer_process(&s, &api);
    let restarted = Instant::now();
    group_members(&app.brokers, &s.kafka.group, 2).await;
    stream.until_acknowledged(50, 30).await;
    let report = stream.finish(&api, restarted, 60).await;
    assert!(report.caught_up_in < Duration::from_secs(45), "{report:?}");
    drop(again);
    app.stop().await;
    broker.stop().await;
}

/// `docker compose down` stops Kafka beside the consumer: asked to stop after its Kafka is
/// gone, the consumer gives up the final commit after a bounded wait and exits 0 (what it did
/// not commit is delivered again, as at-least-once allows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_kafka_is_gone_still_stops_when_asked() {
    let mut broker = TestBroker::alone().await;
    let s = settings(&broker.bootstrap(), "gone");
    let app = TestApp::start(s.clone(), Services::OrdersApi).await;
    let producer = TestApp::start(s.clone(), Services::Producer).await;
    let mut consumer = consumer_process(&s, &app.api);
    group_members(&broker.bootstrap(), &s.kafka.group, 1).await;
    // Orders flowing, with offsets committed every second, when Kafka goes.
    let stream = OrderStream::start(&producer.producer, 100);
    stream.until_acknowledged(200, 30).await;
    broker.pause().await;
    let asked = Instant::now();
    let exited = tokio::task::block_in_place(|| consumer.terminate_within(Duration::from_secs(10)));
    assert_eq!(
        exited,
        Some(true),
        "exit 0 within 10 s, docker stop's grace period"
    );
    eprintln!(
        "stopped {:?} after SIGTERM, its Kafka gone",
        asked.elapsed()
    );
    broker.resume().await;
    app.stop().await;
    broker.stop().await;
}
