//! A harness for the fuzz target: answers raw request frames with a real in-memory broker,
//! exactly as a connection does, but without a socket.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cluster::Cluster;
use crate::config::BrokerConfig;

pub struct Harness {
    runtime: tokio::runtime::Runtime,
    cluster: Arc<Cluster>,
}

impl Harness {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let cluster = Cluster::open(BrokerConfig::ephemeral(), "127.0.0.1".into(), 9092)
            .expect("an in-memory cluster");
        Self {
            runtime,
            cluster: Arc::new(cluster),
        }
    }

    /// Decodes and answers one frame (the bytes after the length prefix). Requests that would
    /// wait (a long-polling fetch, a join waiting for others) are cut short.
    pub fn answer(&self, frame: &[u8]) {
        let frame = Bytes::copy_from_slice(frame);
        let cluster = self.cluster.clone();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(
                Duration::from_millis(5),
                crate::server::answer(&cluster, frame, "fuzz", &mut bytes::BytesMut::new()),
            )
            .await;
        });
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}
