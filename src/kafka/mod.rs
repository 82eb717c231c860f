//! What the services share about talking to Kafka through rdkafka.

mod context;
mod header_list;
mod properties;
mod topics;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

pub use context::{Context, Errors};
pub use header_list::{header_list, MessageHeader};
pub use properties::{is_secret, parse_flag, Properties, PropertyError, ENV_PREFIX};
pub use topics::{ensure_topics, TopicError, Wanted};

/// Message headers. The correlation and reply ones are NestJS's own names, so a NestJS
/// service on the same topics understands them.
pub mod headers {
    pub const EVENT_TYPE: &str = "event-type";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const CORRELATION_ID: &str = "kafka_correlationId";
    pub const REPLY_TOPIC: &str = "kafka_replyTopic";
    pub const DLQ_ERROR: &str = "dlq-error";
    pub const DLQ_TOPIC: &str = "dlq-origin-topic";
    pub const DLQ_PARTITION: &str = "dlq-origin-partition";
    pub const DLQ_OFFSET: &str = "dlq-origin-offset";
    /// On a dead letter cut to fit the dead-letter topic: the original value's size in bytes.
    pub const DLQ_TRUNCATED: &str = "dlq-truncated";
}

pub const ORDER_CREATED: &str = "order.created";

pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

pub fn reply_topic(topic: &str) -> String {
    format!("{topic}.reply")
}

/// How every Kafka client of this process connects: the bootstrap servers and the user's
/// client properties (TLS, SASL, anything librdkafka takes). Every client is made from it:
/// the producer, the consumer, the DLQ and reply clients, the admin client and the console's.
#[derive(Clone, Debug)]
pub struct Kafka {
    pub bootstrap: String,
    pub properties: Properties,
    /// librdkafka's latest complaint (authentication, TLS, transport), shared by the clients.
    pub errors: Errors,
    quiet: bool,
}

impl Kafka {
    pub fn new(bootstrap: String, properties: Properties) -> Self {
        Self {
            bootstrap,
            properties,
            errors: Errors::default(),
            quiet: false,
        }
    }

    /// The same configuration for short-lived clients (the console's): their errors are kept
    /// apart from the services' and logged at debug level only.
    pub fn quiet(&self) -> Self {
        Self {
            errors: Errors::default(),
            quiet: true,
            ..self.clone()
        }
    }

    /// A client configuration: our defaults, then the user's properties, which win.
    pub fn config(&self, client_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        // Reconnect within a second of a broker coming back (librdkafka backs off up to 10 s),
        // so a restarted broker costs seconds of 503s, not tens.
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("client.id", client_id)
            .set("reconnect.backoff.max.ms", "1000");
        for (key, value) in self.properties.iter() {
            config.set(key, value);
        }
        config
    }

    /// The security protocol the clients use (`PLAINTEXT` unless set).
    pub fn security_protocol(&self) -> String {
        self.properties
            .get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_uppercase()
    }

    /// A client with [`Context`] as its context, so its errors are kept in [`Self::errors`].
    pub fn create<T: FromClientConfigAndContext<Context>>(
        &self,
        config: &ClientConfig,
    ) -> Result<T, KafkaError> {
        config.create_with_context(Context {
            errors: self.errors.clone(),
            quiet: self.quiet,
        })
    }

    /// Why Kafka cannot be reached, as librdkafka last said, if it said anything.
    pub fn last_error(&self) -> Option<String> {
        self.errors.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TLS and SASL PLAIN and SCRAM are compiled into librdkafka (rdkafka's `ssl-vendored`),
    /// whatever the machine has installed.
    #[test]
    fn librdkafka_is_built_with_tls_and_sasl() {
        let native = ClientConfig::new()
            .create_native_config()
            .expect("native config");
        let features = native.get("builtin.features").expect("builtin.features");
        for wanted in ["ssl", "sasl_plain", "sasl_scram"] {
            assert!(
                features.split(',').any(|f| f == wanted),
                "{wanted} in {features}"
            );
        }
    }
}
