//! Limits that keep one client from starving the others: connection caps, slow clients and
//! oversized headers, on the HTTP services and on the built-in broker.

use std::time::{Duration, Instant};

use broker::{Broker, BrokerConfig};
use kafka_orders::app::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{settings, TestApp};

/// Everything the server sends until it closes the connection (at most `secs` seconds).
async fn read_until_closed(stream: &mut TcpStream, secs: u64) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(secs), stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connection_cap_slow_clients_and_big_headers() {
    let mut s = settings("unused:9092", "limits");
    s.http.max_connections = 4;
    s.http.header_timeout = Duration::from_millis(500);
    s.http.max_body_bytes = 10_000;
    let app = TestApp::start(s, Services::OrdersApi).await;
    let addr = app.orders_api_addr.expect("listens");

    // Four clients that start a request and never finish its headers take every slot.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /orders HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .expect("write");
        stalled.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fifth = TcpStream::connect(addr).await.expect("connect");
    let refused = read_until_closed(&mut fifth, 5)
        .await
        .expect("answered at once");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.contains("application/problem+json") && refused.contains("retry-after: 1"),
        "{refused}"
    );

    // The header timeout disconnects them, which frees the slots.
    let started = Instant::now();
    for c in &mut stalled {
        assert!(
            read_until_closed(c, 5).await.is_some(),
            "a stalled client is disconnected"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{addr}/orders"))
        .send()
        .await
        .expect("GET");
    assert_eq!(ok.status(), 200);

    // A request head over 64 KiB is refused with 431.
    let big = client
        .get(format!("http://{addr}/orders"))
        .header("x-big", "a".repeat(70 * 1024))
        .send()
        .await
        .expect("GET");
    assert_eq!(big.status(), 431);

    // A body over the configured 10,000 bytes is refused with 413, as problem+json.
    let body = serde_json::json!({"userId": "x".repeat(20_000)});
    let big = client
        .post(format!("http://{addr}/orders"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(big.status(), 413);
    assert_eq!(big.headers()["content-type"], "application/problem+json");

    // A body that stops arriving gets 408 after 10 s, as problem+json.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":").await.expect("write");
    let answer = read_until_closed(&mut slow, 20).await.unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_connection_cap_idle_and_slow_clients() {
    let config = BrokerConfig {
        max_connections: 3,
        idle_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_millis(500),
        ..BrokerConfig::ephemeral()
    };
    let broker = Broker::start(config).await.expect("broker");
    let addr = broker.addr();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // A client that sends half a request size and stalls.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(&[0, 0]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        read_until_closed(&mut fourth, 2).await.as_deref(),
        Some(""),
        "over the cap: closed at once"
    );

    let started = Instant::now();
    assert!(
        read_until_closed(&mut slow, 3).await.is_some(),
        "a stalled request closes its connection"
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "after the request timeout: {:?}",
        started.elapsed()
    );
    for c in &mut idle {
        assert!(
            read_until_closed(c, 3).await.is_some(),
            "an idle connection is closed after the idle timeout"
        );
    }

    // The slots are free again: a real client works.
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = crate::common::client_config(broker.bootstrap())
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to("limits").key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    drop(producer);
    broker.shutdown().await;
}
