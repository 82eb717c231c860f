//! Garbage on the wire hurts only the connection that sent it: a real client producing at
//! the same time is unharmed, and the broker keeps serving.

use std::time::Duration;

use broker::BrokerConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestBroker;

/// Sends raw bytes, closes the sending side, and reads until the broker closes the connection.
pub(crate) async fn send_raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    // Half-close: a truncated frame is then a client that went away mid-request.
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("broker closed the connection");
    answer
}

pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_connection() {
    crate::common::init_logs();
    let config = BrokerConfig {
        max_frame_bytes: 1024 * 1024,
        ..BrokerConfig::ephemeral()
    };
    let broker = TestBroker::embedded(config).await;
    let addr = broker.bootstrap();
    let producer: FutureProducer = crate::common::client_config(&addr)
        .set("acks", "all")
        .create()
        .expect("producer");
    let topic = "survivor";
    let produce = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let value = format!("v{i}");
                producer
                    .send(
                        FutureRecord::<str, str>::to(topic).payload(&value),
                        Duration::from_secs(10),
                    )
                    .await
                    .expect("delivered");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    for _ in 0..5 {
        // Oversized: a 2 GiB frame announced.
        assert!(send_raw(&addr, &i32::MAX.to_be_bytes()).await.is_empty());
        // Negative length.
        assert!(send_raw(&addr, &(-5i32).to_be_bytes()).await.is_empty());
        // Truncated: 100 bytes announced, 10 sent, then the client goes away.
        let mut truncated = 100i32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[0u8; 10]);
        assert!(send_raw(&addr, &truncated).await.is_empty());
        // Garbage body.
        assert!(send_raw(
            &addr,
            &frame(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        )
        .await
        .is_empty());
        // Unknown API key 999.
        assert!(
            send_raw(&addr, &frame(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]))
                .await
                .is_empty()
        );
        // A Metadata v0 header with a body cut short.
        assert!(
            send_raw(&addr, &frame(&[0, 3, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 9]))
                .await
                .is_empty()
        );
    }
    // ApiVersions at an unknown version gets the protocol's answer: v0 body, UNSUPPORTED_VERSION (35).
    let answer = send_raw(&addr, &frame(&[0, 18, 0, 99, 0, 0, 0, 42, 0, 0])).await;
    assert!(answer.len() > 10, "{answer:?}");
    assert_eq!(&answer[4..8], &42i32.to_be_bytes(), "correlation id echoed");
    assert_eq!(&answer[8..10], &35i16.to_be_bytes(), "UNSUPPORTED_VERSION");

    produce
        .await
        .expect("every message delivered while garbage arrived");
    drop(producer);
    broker.stop().await;
}
