//! Topic sizes on disk (or in memory), through DescribeLogDirs. rdkafka does not offer that
//! call, so the console sends it itself with its own protocol client ([`super::wire`]), one
//! request to each broker, and adds up the partitions.

use std::collections::HashMap;

use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use super::wire::{self, Security, WireError};
use crate::kafka::Kafka;

/// v1 is served by every Kafka since 2.0 (4.0 included) and by the built-in broker.
const VERSION: i16 = 1;

fn describe(
    host: &str,
    port: i32,
    security: &Security,
) -> Result<DescribeLogDirsResponse, WireError> {
    let mut conn = wire::connect(host, port, security)?;
    conn.send(
        &DescribeLogDirsRequest::default().with_topics(None),
        VERSION,
    )
}

/// Bytes per topic across every broker and log dir. A broker that does not answer is left
/// out, so sizes may be partial; the console shows them as they are. An error when no broker
/// answered, or the console cannot speak the cluster's security settings.
pub fn topic_sizes(
    kafka: &Kafka,
    brokers: &[(String, i32)],
) -> Result<HashMap<String, i64>, WireError> {
    let security = Security::from_kafka(kafka)?;
    let mut sizes = HashMap::new();
    let mut answered = false;
    let mut last_error = None;
    for (host, port) in brokers {
        let response = match describe(host, *port, &security) {
            Ok(response) => response,
            Err(err) => {
                last_error = Some(err);
                continue;
            }
        };
        answered = true;
        for dir in response.results.iter().filter(|d| d.error_code == 0) {
            for topic in &dir.topics {
                let bytes: i64 = topic
                    .partitions
                    .iter()
                    .filter(|p| !p.is_future_key)
                    .map(|p| p.partition_size)
                    .sum();
                *sizes.entry(topic.name.to_string()).or_insert(0) += bytes;
            }
        }
    }
    match last_error {
        Some(err) if !answered => Err(err),
        _ => Ok(sizes),
    }
}
