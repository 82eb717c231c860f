//! On a 3-broker cluster (replication factor 3, `min.insync.replicas=2`): the broker leading
//! the orders topic's partition 0 is killed with SIGKILL in the middle of a steady order
//! stream, then started again. Every order that got a 2xx is in the Orders API exactly once.

use std::time::{Duration, Instant};

use kafka_orders::app::Services;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::common::stream::OrderStream;
use crate::common::{client_config, eventually, settings, TestApp, TestBroker};

/// The node leading `topic`'s partition 0, once it has one.
async fn leader(bootstrap: &str, topic: &str) -> i32 {
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
    let broker = TestBroker::start().await;
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
