//! What the consumer writes back to Kafka: dead letters and request-response replies.

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde_json::Value;

use crate::kafka::{headers, Context};

/// A header's value as text.
pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    let found = message.headers()?.iter().find(|h| h.key == name)?;
    found.value.map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Copies the message to the dead-letter topic with the error and where it came from.
pub async fn dead_letter(
    producer: &FutureProducer<Context>,
    dlq: &str,
    message: &OwnedMessage,
    error: &str,
) -> Result<(), KafkaError> {
    let mut out = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for h in original.iter() {
            out = out.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let (partition, offset) = (
        message.partition().to_string(),
        message.offset().to_string(),
    );
    out = out
        .insert(Header {
            key: headers::DLQ_ERROR,
            value: Some(error),
        })
        .insert(Header {
            key: headers::DLQ_TOPIC,
            value: Some(message.topic()),
        })
        .insert(Header {
            key: headers::DLQ_PARTITION,
            value: Some(&partition),
        })
        .insert(Header {
            key: headers::DLQ_OFFSET,
            value: Some(&offset),
        });
    let mut record = FutureRecord::<[u8], [u8]>::to(dlq).headers(out);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    producer
        .send(record, Timeout::Never)
        .await
        .map(|_| ())
        .map_err(|(e, _)| e)
}

/// Answers a request-response message on its reply topic, if it asked for an answer.
pub async fn reply(producer: &FutureProducer<Context>, message: &OwnedMessage, answer: &Value) {
    let (Some(topic), Some(correlation)) = (
        header(message, headers::REPLY_TOPIC),
        header(message, headers::CORRELATION_ID),
    ) else {
        return;
    };
    let payload = answer.to_string();
    let out = OwnedHeaders::new()
        .insert(Header {
            key: headers::CORRELATION_ID,
            value: Some(&correlation),
        })
        .insert(Header {
            key: headers::CONTENT_TYPE,
            value: Some("application/json"),
        });
    let record = FutureRecord::<str, str>::to(&topic)
        .payload(&payload)
        .headers(out);
    if let Err((err, _)) = producer.send(record, Timeout::Never).await {
        // The waiting client gets a 504 and the order is stored anyway: log, do not retry.
        tracing::warn!(%err, topic, "could not publish a reply");
    }
}
