//! What the consumer writes back to Kafka: dead letters and request-response replies.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde_json::Value;

use crate::kafka::{header_list, headers, Context};

/// A header's value as text.
pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    let found = header_list(message.headers()?)
        .into_iter()
        .find(|h| h.name == name)?;
    found
        .value
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// How much of a message its dead letter carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Key, value and headers as they came.
    All,
    /// For a message too large for the dead-letter topic: key, value and error text cut to
    /// [`TRUNCATED_BYTES`] each, the original headers only if together they fit in it too,
    /// and a `dlq-truncated` header with the value's size. It is for reading, not replaying.
    Truncated,
}

/// What a truncated dead letter keeps of each part: enough to tell what the message was, and,
/// with four parts at most this size, small enough for any dead-letter topic that takes a
/// quarter of Kafka's default (`message.max.bytes`, 1048588) and for librdkafka's own limit
/// (the producer's `message.max.bytes`, 1000000).
pub const TRUNCATED_BYTES: usize = 64 * 1024;

impl Keep {
    /// `bytes` as this copy carries them.
    fn part(self, bytes: &[u8]) -> &[u8] {
        match self {
            Keep::All => bytes,
            Keep::Truncated => &bytes[..bytes.len().min(TRUNCATED_BYTES)],
        }
    }
}

/// Whether Kafka refused a message for its size: librdkafka itself, against the producer's
/// `message.max.bytes`, or the broker (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE).
pub fn too_large(err: &KafkaError) -> bool {
    matches!(
        err.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge)
    )
}

/// Copies the message to the dead-letter topic with the error and where it came from.
pub async fn dead_letter(
    producer: &FutureProducer<Context>,
    dlq: &str,
    message: &OwnedMessage,
    error: &str,
    keep: Keep,
) -> Result<(), KafkaError> {
    let mut out = OwnedHeaders::new();
    if let Some(original) = message.headers().map(header_list) {
        let size: usize = original
            .iter()
            .map(|h| h.name.len() + h.value.as_ref().map_or(0, Vec::len))
            .sum();
        if keep == Keep::All || size <= TRUNCATED_BYTES {
            for h in &original {
                out = out.insert(Header {
                    key: &h.name,
                    value: h.value.as_deref(),
                });
            }
        }
    }
    let (partition, offset) = (
        message.partition().to_string(),
        message.offset().to_string(),
    );
    out = out
        .insert(Header {
            key: headers::DLQ_ERROR,
            value: Some(keep.part(error.as_bytes())),
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
    if keep == Keep::Truncated {
        let size = message.payload().map_or(0, <[u8]>::len).to_string();
        out = out.insert(Header {
            key: headers::DLQ_TRUNCATED,
            value: Some(&size),
        });
    }
    let mut record = FutureRecord::<[u8], [u8]>::to(dlq).headers(out);
    if let Some(key) = message.key() {
        record = record.key(keep.part(key));
    }
    if let Some(payload) = message.payload() {
        record = record.payload(keep.part(payload));
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
