//! A consumer killed with SIGKILL (no LeaveGroup, no commit): the group coordinator evicts it
//! when its session times out, the survivor takes its partitions, and every order arrives once.
//! Then it is started again and rejoins.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kafka_orders::app::Services;
use kafka_orders::config::Settings;
use reqwest::StatusCode;

use common::{eventually, exactly_once, group_members, orders, seed_order, settings, start, url, TestBroker};

fn consumer_process(s: &Settings, api: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kafka-orders"))
        .arg("consumer")
        .env("KAFKA_ORDERS_BROKERS", &s.brokers)
        .env("KAFKA_ORDERS_TOPIC", &s.topic)
        .env("KAFKA_ORDERS_GROUP", &s.group)
        .env("KAFKA_ORDERS_ORDERS_API_URL", api)
        .env("KAFKA_ORDERS_CONSUMER_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start a consumer process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_is_evicted_and_nothing_is_lost() {
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "kill");
    let app = start(s.clone(), Services::All).await;
    let (producer, api) = (url(app.producer_addr, ""), url(app.orders_api_addr, ""));
    let mut other = consumer_process(&s, &api);
    group_members(&app.brokers, &s.group, 2).await;

    other.kill().expect("SIGKILL");
    other.wait().expect("reaped");
    let killed = Instant::now();
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let status = client.post(format!("{producer}/orders")).json(&seed_order()).send().await.expect("POST").status();
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    // The orders on the dead member's partitions wait for its eviction (session timeout 10 s).
    eventually(60, || async { (orders(&api).await.len() == 20).then_some(()) }).await;
    let recovered = killed.elapsed();
    assert!(recovered < Duration::from_secs(45), "recovered in {recovered:?}");

    let mut again = consumer_process(&s, &api);
    group_members(&app.brokers, &s.group, 2).await;
    for _ in 0..10 {
        client.post(format!("{producer}/orders")).json(&seed_order()).send().await.expect("POST");
    }
    exactly_once(&api, 30).await;
    eprintln!("killed consumer: all orders stored {recovered:?} after the kill");
    again.kill().expect("stop");
    again.wait().expect("reaped");
    app.stop().await.expect("clean stop");
    broker.stop().await;
}
