//! The topics the services need (orders, replies, dead letters), made sure of at start.
//!
//! Each is created with the configured replication factor (-1: the cluster's own default,
//! which Kafka takes since 2.4 and the built-in broker takes as 1). Where the cluster refuses
//! (ACLs, auto-creation off, a policy), the error says which topic to create and how; an
//! existing topic with fewer partitions than the settings ask for is reported.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::{Context, Kafka};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// librdkafka refused the client settings (an unknown `-X` property, a bad value).
    #[error("the Kafka client settings were refused: {0} (check -X, the [kafka] table and KAFKA_ORDERS_KAFKA_* variables)")]
    Settings(#[source] KafkaError),
    #[error("Kafka at {bootstrap} did not answer ({error}){}", cause(.reason))]
    Unreachable {
        bootstrap: String,
        error: KafkaError,
        reason: Option<String>,
    },
    #[error("Kafka refused to create topic {topic}: {code}. Create it yourself, for example: kafka-topics.sh --bootstrap-server {bootstrap} --create --topic {topic} --partitions {partitions}{}", replication(*.replication_factor))]
    Refused {
        topic: String,
        code: RDKafkaErrorCode,
        bootstrap: String,
        partitions: i32,
        replication_factor: i32,
    },
}

/// librdkafka's reason, and which settings to look at for it.
fn cause(reason: &Option<String>) -> String {
    let Some(reason) = reason else {
        return String::new();
    };
    let settings = if reason.contains("SASL authentication") {
        " (check sasl.mechanism, sasl.username and sasl.password)"
    } else if reason.contains("SSL handshake") {
        " (check ssl.ca.location, and ssl.certificate.location and ssl.key.location for mutual TLS)"
    } else {
        ""
    };
    format!(": {reason}{settings}")
}

fn replication(factor: i32) -> String {
    if factor > 0 {
        format!(" --replication-factor {factor}")
    } else {
        String::new()
    }
}

/// Asks for the cluster's metadata. On failure, the client's queued events are served first,
/// so that librdkafka's reason (a refused password, an untrusted certificate) is recorded in
/// [`Kafka::errors`] for the caller to tell.
async fn reachable(kafka: &Kafka) -> Result<(), TopicError> {
    let probe: BaseConsumer<Context> = kafka
        .create(&kafka.config("kafka-orders-admin"))
        .map_err(TopicError::Settings)?;
    let result = tokio::task::spawn_blocking(move || {
        let result = probe.fetch_metadata(None, TIMEOUT).map(drop);
        if result.is_err() {
            probe.poll(Duration::from_millis(100));
        }
        result
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(TopicError::Unreachable {
            bootstrap: kafka.bootstrap.clone(),
            error,
            reason: kafka.last_error(),
        }),
        Err(_) => Err(TopicError::Unreachable {
            bootstrap: kafka.bootstrap.clone(),
            error: KafkaError::Canceled,
            reason: None,
        }),
    }
}

/// A topic to make sure of: its name and the partitions it should have.
pub struct Wanted<'a> {
    pub name: &'a str,
    pub partitions: i32,
}

/// Creates the topics that do not exist yet. Returns a warning for each existing topic with
/// fewer partitions than wanted.
pub async fn ensure_topics(
    kafka: &Kafka,
    topics: &[Wanted<'_>],
    replication_factor: i32,
) -> Result<Vec<String>, TopicError> {
    let unreachable = |error: KafkaError| TopicError::Unreachable {
        bootstrap: kafka.bootstrap.clone(),
        error,
        reason: kafka.last_error(),
    };
    reachable(kafka).await?;
    let admin: AdminClient<Context> = kafka
        .create(&kafka.config("kafka-orders-admin"))
        .map_err(TopicError::Settings)?;
    let options = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t.name,
                t.partitions,
                TopicReplication::Fixed(replication_factor),
            )
        })
        .collect();
    let results = admin
        .create_topics(&new, &options)
        .await
        .map_err(unreachable)?;
    for (result, wanted) in results.into_iter().zip(topics) {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((
                _,
                code @ (RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure),
            )) => return Err(unreachable(KafkaError::AdminOp(code))),
            Err((topic, code)) => {
                return Err(TopicError::Refused {
                    topic,
                    code,
                    bootstrap: kafka.bootstrap.clone(),
                    partitions: wanted.partitions,
                    replication_factor,
                })
            }
        }
    }
    let client = admin.inner();
    let mut warnings = Vec::new();
    for wanted in topics {
        let have = partitions(client, wanted.name).await.map_err(unreachable)?;
        if (have as i32) < wanted.partitions {
            warnings.push(format!(
                "topic {} has {have} partition(s), fewer than the {} the settings ask for: at most {have} consumer(s) share its work (add partitions with kafka-topics.sh --alter --topic {} --partitions {}, or set partitions = {have})",
                wanted.name, wanted.partitions, wanted.name, wanted.partitions
            ));
        }
    }
    Ok(warnings)
}

/// The partitions the cluster reports for a topic. Right after it is created, the broker
/// asked may not know it yet (in a cluster, the controller tells the others a moment later):
/// asked again until it is known, for up to [`TIMEOUT`].
async fn partitions(
    client: &rdkafka::client::Client<Context>,
    topic: &str,
) -> Result<usize, KafkaError> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let metadata = tokio::task::block_in_place(|| {
            client.fetch_metadata(Some(topic), Duration::from_secs(5))
        })?;
        let known = metadata
            .topics()
            .first()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty());
        if let Some(known) = known {
            return Ok(known.partitions().len());
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
