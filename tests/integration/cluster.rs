//! On the 3-broker SASL_SSL cluster (replication factor 3, `min.insync.replicas=2`):
//! - the broker leading the orders topic's partition 0 is killed with SIGKILL in the middle of
//!   a steady order stream, then started again: every order that got a 2xx is in the Orders
//!   API exactly once;
//! - a wrong password and an untrusted certificate are said plainly, at start and by `/readyz`.

use std::time::{Duration, Instant};

use kafka_orders::app::Services;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::common::stream::OrderStream;
use crate::common::{client_config, eventually, kafka_properties, settings, TestApp, TestBroker};

/// The node leading `topic`'s partition 0, once it has one.
pub async fn leader(bootstrap: &str, topic: &str) -> i32 {
    let client: BaseConsumer = client_config(bootstrap).create().expect("client");
    eventually(30, || {
        let metadata = client.fetch_metadata(Some(topic), Duration::from_secs(5));
        async move {
            let metadata = metadata.ok()?;
            let partition = metadata.topics().first()?.partitions().first()?.leader();
            (partition >= 0).then_some(partition)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the 3-broker cluster: KAFKA_BROKERS, KAFKA_PROPERTIES and KAFKA_CONTROL=fixtures/kafka-cluster/cluster.sh"]
async fn the_leader_is_killed_mid_stream_and_nothing_is_lost() {
    let broker = TestBroker::alone().await;
    let s = settings(&broker.bootstrap(), "failover");
    let app = TestApp::start(s.clone(), Services::All).await;
    let stream = OrderStream::start(&app.producer, 50);
    stream.until_acknowledged(50, 30).await;

    let node = leader(&broker.bootstrap(), &s.kafka.topic).await;
    TestBroker::control(&["kill", &node.to_string()]);
    let killed = Instant::now();
    // The partitions it led move to the other two, which still make the in-sync minimum.
    stream.until_acknowledged(100, 60).await;
    TestBroker::control(&["resume", &node.to_string()]);
    stream.until_acknowledged(50, 60).await;
    let report = stream.finish(&app.api, killed, 90).await;
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");
    app.stop().await;
    broker.stop().await;
}

/// Starts the producer and consumer with `change` applied to the cluster's client properties,
/// and returns what `/readyz` of each says once it has a reason.
async fn not_ready_because(change: (&str, String)) -> Vec<String> {
    let broker = TestBroker::start().await;
    let mut s = settings(&broker.bootstrap(), "refused");
    let mut properties = kafka_properties();
    properties.retain(|(k, _)| k != change.0);
    properties.push((change.0.to_string(), change.1));
    s.kafka.properties = properties.into_iter().collect();
    let app = TestApp::start(s, Services::All).await;
    let mut reasons = Vec::new();
    for base in [&app.producer, &app.consumer] {
        let url = format!("{base}/readyz");
        let detail = eventually(60, || async {
            let response = reqwest::get(&url).await.ok()?;
            assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
            let body: serde_json::Value = response.json().await.ok()?;
            let detail = body["detail"].as_str()?.to_string();
            // The first answers may come before librdkafka has said why.
            (detail.contains("SASL") || detail.contains("SSL")).then_some(detail)
        })
        .await;
        reasons.push(detail);
    }
    app.stop().await;
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the SASL_SSL cluster: KAFKA_BROKERS and KAFKA_PROPERTIES"]
async fn a_wrong_password_is_said_plainly_and_never_shown() {
    for reason in not_ready_because(("sasl.password", "not-the-password".to_string())).await {
        assert!(reason.contains("Authentication failed"), "{reason}");
        assert!(!reason.contains("not-the-password"), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the SASL_SSL cluster: KAFKA_BROKERS and KAFKA_PROPERTIES"]
async fn an_untrusted_certificate_is_said_plainly() {
    let ca = kafka_properties()
        .into_iter()
        .find(|(k, _)| k == "ssl.ca.location")
        .map(|(_, v)| v)
        .expect("the cluster's CA");
    let untrusted = std::path::Path::new(&ca).with_file_name("untrusted-ca.pem");
    let change = ("ssl.ca.location", untrusted.display().to_string());
    for reason in not_ready_because(change).await {
        assert!(reason.contains("certificate verify failed"), "{reason}");
    }
}
