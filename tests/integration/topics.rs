//! The topics the services need, made sure of at start: created with the replication factor
//! asked, a refusal said with the command to run, too few partitions reported.

use kafka_orders::kafka::{ensure_topics, Kafka, TopicError, Wanted};

use crate::common::{kafka_properties, real_kafka, TestBroker};

fn kafka(bootstrap: String) -> Kafka {
    let properties = if real_kafka().as_deref() == Some(bootstrap.as_str()) {
        kafka_properties().into_iter().collect()
    } else {
        Default::default()
    };
    Kafka::new(bootstrap, properties)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_or_reported_and_refusals_say_what_to_do() {
    let broker = TestBroker::start().await;
    let kafka = kafka(broker.bootstrap());
    let name = format!("ensure-{}", uuid::Uuid::new_v4().simple());
    let one = [Wanted {
        name: &name,
        partitions: 1,
    }];
    let warnings = ensure_topics(&kafka, &one, -1).await.expect("created");
    assert!(warnings.is_empty(), "{warnings:?}");
    // Asked again with more partitions: it exists, and the shortfall is reported.
    let three = [Wanted {
        name: &name,
        partitions: 3,
    }];
    let warnings = ensure_topics(&kafka, &three, -1).await.expect("exists");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("1 partition(s), fewer than the 3"),
        "{warnings:?}"
    );
    // More replicas than there are brokers: refused, and the error says how to create it.
    let other = format!("refused-{}", uuid::Uuid::new_v4().simple());
    let refused = [Wanted {
        name: &other,
        partitions: 2,
    }];
    match ensure_topics(&kafka, &refused, 7).await {
        Err(err @ TopicError::Refused { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains(&format!(
                    "kafka-topics.sh --bootstrap-server {}",
                    broker.bootstrap()
                )) && text.contains(&format!(
                    "--topic {other} --partitions 2 --replication-factor 7"
                )),
                "{text}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    broker.stop().await;
}
