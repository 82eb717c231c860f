//! Starts real things for the integration tests: the embedded broker on port 0, or a real
//! Kafka named by `KAFKA_BROKERS`.

#![allow(dead_code)]

use broker::{Broker, BrokerConfig, BrokerHandle};

pub struct TestBroker {
    embedded: Option<BrokerHandle>,
    bootstrap: String,
}

impl TestBroker {
    /// The Kafka in `KAFKA_BROKERS` if set, else an in-memory embedded broker on a free port.
    pub async fn start() -> Self {
        init_logs();
        match std::env::var("KAFKA_BROKERS") {
            Ok(bootstrap) if !bootstrap.is_empty() => Self { embedded: None, bootstrap },
            _ => Self::embedded(BrokerConfig::ephemeral()).await,
        }
    }

    pub async fn embedded(config: BrokerConfig) -> Self {
        let handle = Broker::start(config).await.expect("embedded broker starts");
        Self { bootstrap: handle.bootstrap(), embedded: Some(handle) }
    }

    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    pub async fn stop(self) {
        if let Some(handle) = self.embedded {
            handle.shutdown().await;
        }
    }
}

/// Logs from the code under test, shown for failing tests; `RUST_LOG` picks the level.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
