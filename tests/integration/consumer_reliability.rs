//! The consumer's promises: poison messages go to the dead-letter topic without blocking the
//! partition, an Orders API outage loses nothing and counts nothing twice, and consumers in
//! one group share the partitions.

use std::time::Duration;

use kafka_orders::app::Services;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

use crate::common::stream::OrderStream;
use crate::common::{group_members, header, seed_order, settings, TestApp, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_in_the_middle_of_a_stream_go_to_the_dlq_and_the_rest_flows() {
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "dlq");
    // One partition, so the poison messages sit between valid orders.
    let mut s = s;
    s.kafka.partitions = 1;
    let app = TestApp::start(s.clone(), Services::All).await;
    let stream = OrderStream::start(&app.producer, 50);
    stream.until_acknowledged(50, 30).await;
    let kafka: FutureProducer = crate::common::client_config(&app.brokers)
        .create()
        .expect("producer");
    kafka
        .send(
            FutureRecord::to(&s.kafka.topic)
                .key("poison")
                .payload("this is not JSON"),
            Duration::from_secs(10),
        )
        .await
        .expect("poison delivered");
    let mut invalid = seed_order();
    invalid["id"] = json!("order-invalid");
    invalid["totalAmount"] = json!(1);
    kafka
        .send(
            FutureRecord::to(&s.kafka.topic)
                .key("invalid")
                .payload(&invalid.to_string()),
            Duration::from_secs(10),
        )
        .await
        .expect("invalid delivered");
    let injected = std::time::Instant::now();
    stream.until_acknowledged(50, 30).await;
    stream.finish(&app.api, injected, 30).await;

    let dlq = crate::common::dead_letter_reader(&app.brokers, &s);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = tokio::time::timeout(Duration::from_secs(20), dlq.recv())
            .await
            .expect("dead letter")
            .expect("ok");
        let get = |name: &str| header(&message, name);
        assert_eq!(get("dlq-origin-topic"), s.kafka.topic);
        assert_eq!(get("dlq-origin-partition"), "0");
        seen.push((
            String::from_utf8_lossy(message.key().expect("key")).into_owned(),
            get("dlq-origin-offset"),
            get("dlq-error"),
        ));
    }
    let offset = |i: usize| seen[i].1.parse::<i64>().expect("offset");
    assert_eq!(
        (seen[0].0.as_str(), seen[1].0.as_str()),
        ("poison", "invalid")
    );
    assert!(
        offset(0) >= 50 && offset(1) > offset(0),
        "in the middle of the stream: {seen:?}"
    );
    assert!(seen[0].2.starts_with("not JSON"), "{}", seen[0].2);
    assert!(seen[1].2.contains("totalAmount"), "{}", seen[1].2);
    // Test clients go first: closing one after its broker is gone waits for a timeout.
    drop((dlq, kafka));
    app.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_api_stopped_for_10_s_loses_nothing_and_counts_nothing_twice() {
    let broker = TestBroker::start().await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut s = settings(&broker.bootstrap(), "outage");
    s.storage.data_dir = Some(data.path().to_path_buf());
    let api_service = TestApp::start(s.clone(), Services::OrdersApi).await;
    let api_addr = api_service.orders_api_addr.expect("listens");
    s.orders_api.url = format!("http://{api_addr}").parse().expect("url");
    s.orders_api.listen = api_addr;
    let front = TestApp::start(s.clone(), Services::Producer).await;
    let consumer = TestApp::start(s.clone(), Services::Consumer).await;
    let stream = OrderStream::start(&front.producer.clone(), 50);
    stream.until_acknowledged(100, 30).await;

    api_service.stop().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Back on the same port, with the orders it stored before (SQLite in the data folder).
    let api_service = TestApp::start(s.clone(), Services::OrdersApi).await;
    let back = std::time::Instant::now();
    stream.until_acknowledged(50, 30).await;
    let report = stream.finish(&s.orders_api_base(), back, 60).await;
    assert!(
        report.acknowledged >= 150 + 400,
        "the stream went on while the API was down: {report:?}"
    );
    for running in [consumer, front, api_service] {
        running.stop().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_consumer_joining_and_leaving_mid_stream_loses_nothing() {
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "pair");
    let app = TestApp::start(s.clone(), Services::All).await;
    let api = app.api.clone();
    let stream = OrderStream::start(&app.producer, 50);
    stream.until_acknowledged(50, 30).await;
    // A second consumer joins: the group rebalances and the two share the partitions.
    let mut second = s.clone();
    second.orders_api.url = api.parse().expect("url");
    let other = TestApp::start(second, Services::Consumer).await;
    group_members(&app.brokers, &s.kafka.group, 2).await;
    stream.until_acknowledged(100, 30).await;
    // It leaves (cleanly: commit, LeaveGroup): the first takes its partitions back.
    other.stop().await;
    let left = std::time::Instant::now();
    group_members(&app.brokers, &s.kafka.group, 1).await;
    stream.until_acknowledged(100, 30).await;
    stream.finish(&api, left, 30).await;
    app.stop().await;
    broker.stop().await;
}
