//! A consumer killed with SIGKILL (no LeaveGroup, no commit): the group coordinator evicts it
//! when its session times out, the survivor takes its partitions, and every order arrives once.
//! Then it is started again and rejoins.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kafka_orders::app::Services;
use kafka_orders::config::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use reqwest::StatusCode;

use common::{eventually, orders, seed_order, settings, start, url, TestBroker};

fn consumer_process(s: &Settings, api: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kafka-orders"))
        .arg("consumer")
        .env("KAFKA_ORDERS_BROKERS", &s.brokers)
        .env("KAFKA_ORDERS_TOPIC", &s.topic)
        .env("KAFKA_ORDERS_GROUP", &s.group)
        .env("KAFKA_ORDERS_ORDERS_API_URL", api)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start a consumer process")
}

async fn members(probe: &BaseConsumer, group: &str, n: usize) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_is_evicted_and_nothing_is_lost() {
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "kill");
    let app = start(s.clone(), Services::All).await;
    let (producer, api) = (url(app.producer_addr, ""), url(app.orders_api_addr, ""));
    let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &app.brokers).create().expect("client");
    let mut other = consumer_process(&s, &api);
    members(&probe, &s.group, 2).await;

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
    members(&probe, &s.group, 2).await;
    for _ in 0..10 {
        client.post(format!("{producer}/orders")).json(&seed_order()).send().await.expect("POST");
    }
    eventually(30, || async { (orders(&api).await.len() == 30).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = orders(&api).await;
    let mut ids: Vec<&str> = all.iter().map(|o| o["id"].as_str().expect("id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "every order exactly once");
    eprintln!("killed consumer: all orders stored {recovered:?} after the kill");
    again.kill().expect("stop");
    again.wait().expect("reaped");
    drop(probe);
    app.stop().await.expect("clean stop");
    broker.stop().await;
}
