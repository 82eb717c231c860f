//! What a request may cost the built-in broker in memory, whatever its sender claims: a
//! request of millions of empty entries is refused before it is decoded. A real client keeps
//! working throughout. Embedded only: Apache Kafka decodes any entry count.

use std::time::Duration;

use broker::BrokerConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::broker_bad_input::{frame, send_raw};
use crate::common::TestBroker;

async fn deliver(producer: &FutureProducer, topic: &str, value: &str) {
    producer
        .send(
            FutureRecord::<str, str>::to(topic).payload(value),
            Duration::from_secs(30),
        )
        .await
        .expect("delivered");
}

/// A Metadata v0 request for `count` topics with empty names: 2 bytes each on the wire.
fn empty_topic_names(count: usize) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0, 0, 0, 0, 5, 0xff, 0xff];
    body.extend_from_slice(&(count as i32).to_be_bytes());
    body.resize(body.len() + 2 * count, 0);
    frame(&body)
}

/// Two million empty topic names (a 4 MiB frame that would decode into 144 MiB) close the
/// connection that sent them, unanswered; a hundred are answered; a real client producing
/// meanwhile is unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_millions_of_empty_entries_is_refused() {
    crate::common::init_logs();
    let broker = TestBroker::embedded(BrokerConfig::ephemeral()).await;
    let addr = broker.bootstrap();
    let producer: FutureProducer = crate::common::client_config(&addr)
        .create()
        .expect("producer");
    let produce = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                deliver(&producer, "entries", &format!("v{i}")).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let hostile = empty_topic_names(2_000_000);
    for _ in 0..5 {
        assert!(send_raw(&addr, &hostile).await.is_empty(), "refused");
    }
    let answer = send_raw(&addr, &empty_topic_names(100)).await;
    assert_eq!(&answer[4..8], &5i32.to_be_bytes(), "a hundred are answered");

    produce
        .await
        .expect("every message delivered while the hostile requests arrived");
    drop(producer);
    broker.stop().await;
}
