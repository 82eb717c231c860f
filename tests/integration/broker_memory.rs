//! What a request may cost the built-in broker in memory, whatever its sender claims: a
//! frame's buffer holds what arrived, not what was announced; request bytes across all
//! connections fit one budget (`queued.max.request.bytes`), which a request waits for; and a
//! request of millions of empty entries is refused before it is decoded. A real client keeps
//! working throughout. Embedded only: Apache Kafka's own limits differ (its budget is unbounded
//! by default, and it decodes any entry count).

use std::time::{Duration, Instant};

use broker::BrokerConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::broker_bad_input::{frame, send_raw};
use crate::common::TestBroker;

const MIB: usize = 1024 * 1024;

/// ApiVersions v0 with correlation id 7: the smallest request that gets an answer.
const API_VERSIONS: [u8; 10] = [0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];

/// This process's address space (the broker runs in it), from /proc/self/status.
fn vm_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in kB");
    kib * 1024
}

async fn deliver(producer: &FutureProducer, topic: &str, value: &str) {
    producer
        .send(
            FutureRecord::<str, str>::to(topic).payload(value),
            Duration::from_secs(30),
        )
        .await
        .expect("delivered");
}

/// 100 connections each announce a 100 MiB request and send 1 KiB of it: the broker holds
/// about what arrived (it used to allocate the announced 100 MiB at once, 10 GiB in all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_announced_but_not_sent_holds_only_what_arrived() {
    let config = BrokerConfig {
        // A budget that admits every claim: this test is about each connection's buffer.
        queued_max_request_bytes: 64 << 30,
        ..BrokerConfig::ephemeral()
    };
    let broker = TestBroker::embedded(config).await;
    let addr = broker.bootstrap();
    let producer: FutureProducer = crate::common::client_config(&addr)
        .create()
        .expect("producer");
    deliver(&producer, "announced", "before").await;

    let before = vm_size();
    let accepted = broker.stats().connections;
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut claim = ((100 * MIB) as i32).to_be_bytes().to_vec();
        claim.extend_from_slice(&[0; 1024]);
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(&claim).await.expect("write");
        stalled.push(stream);
    }
    // Every claim accepted, then a moment for each connection task to read what was sent:
    // otherwise nothing would have been allocated yet, and the check below would prove nothing.
    crate::common::eventually(10, || async {
        (broker.stats().connections >= accepted + 100).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    deliver(&producer, "announced", "meanwhile").await;
    let grown = vm_size().saturating_sub(before);
    println!(
        "100 announced 100 MiB frames: address space grew {} MiB",
        grown / MIB
    );
    assert!(grown < 1024 * MIB, "grew {} MiB", grown / MIB);

    drop(stalled);
    deliver(&producer, "announced", "after").await;
    drop(producer);
    broker.stop().await;
}

/// A Fetch v4 request of exactly `size` bytes (padded after its body, which Kafka ignores)
/// that long-polls partition 0 of `topic` for `wait_ms`, holding its bytes meanwhile.
fn padded_long_poll(topic: &str, wait_ms: i32, size: usize) -> Vec<u8> {
    let mut body = vec![0, 1, 0, 4, 0, 0, 0, 9, 0xff, 0xff];
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&wait_ms.to_be_bytes());
    body.extend_from_slice(&i32::MAX.to_be_bytes()); // min bytes: wait the whole time
    body.extend_from_slice(&(MIB as i32).to_be_bytes()); // max bytes
    body.push(0); // isolation level
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // partition
    body.extend_from_slice(&0i64.to_be_bytes()); // fetch offset
    body.extend_from_slice(&(MIB as i32).to_be_bytes()); // partition max bytes
    body.resize(size, 0);
    frame(&body)
}

/// One request holds the whole budget (a 1 MiB long-polling fetch): another connection's
/// request waits for it, and is closed once the request timeout runs out; the real client's
/// messages are delivered once the budget is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_the_request_memory_budget() {
    crate::common::init_logs();
    let config = BrokerConfig {
        max_frame_bytes: MIB,
        queued_max_request_bytes: MIB,
        request_timeout: Duration::from_secs(1),
        ..BrokerConfig::ephemeral()
    };
    let broker = TestBroker::embedded(config).await;
    let addr = broker.bootstrap();
    let producer: FutureProducer = crate::common::client_config(&addr)
        .create()
        .expect("producer");
    let topic = "budget";
    deliver(&producer, topic, "before").await;

    let mut holder = TcpStream::connect(&addr).await.expect("connect");
    let held_at = Instant::now();
    holder
        .write_all(&padded_long_poll(topic, 5000, MIB))
        .await
        .expect("write");
    // Time for the broker to read the holder's size and take the budget (a loaded CI
    // machine included); the fetch then holds it for 5 s.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = {
        let producer = producer.clone();
        tokio::spawn(async move { deliver(&producer, topic, "during").await })
    };

    let started = Instant::now();
    let answer = send_raw(&addr, &frame(&API_VERSIONS)).await;
    let waited = started.elapsed();
    assert!(answer.is_empty(), "not answered while the budget is held");
    assert!(
        waited >= Duration::from_millis(900) && held_at.elapsed() < Duration::from_millis(4900),
        "closed after the 1 s request timeout, before the budget was free: {waited:?}"
    );

    let mut answer = [0u8; 8];
    holder
        .read_exact(&mut answer)
        .await
        .expect("the holder is answered");
    assert_eq!(&answer[4..], &9i32.to_be_bytes(), "its correlation id");
    drop(holder);

    let started = Instant::now();
    let answer = send_raw(&addr, &frame(&API_VERSIONS)).await;
    assert_eq!(
        &answer[4..8],
        &7i32.to_be_bytes(),
        "answered once the budget is free"
    );
    assert!(started.elapsed() < Duration::from_millis(900));
    during
        .await
        .expect("the real client's message is delivered");
    drop(producer);
    broker.stop().await;
}

/// A Metadata v0 request for `count` topics with empty names: 2 bytes each on the wire.
fn empty_topic_names(count: usize) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0, 0, 0, 0, 5, 0xff, 0xff];
    body.extend_from_slice(&(count as i32).to_be_bytes());
    body.resize(body.len() + 2 * count, 0);
    frame(&body)
}

/// Two million empty topic names (a 4 MiB frame that would decode into 144 MiB) close the
/// connection that sent them, unanswered; a hundred are answered; a real client producing
/// meanwhile is unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_millions_of_empty_entries_is_refused() {
    crate::common::init_logs();
    let broker = TestBroker::embedded(BrokerConfig::ephemeral()).await;
    let addr = broker.bootstrap();
    let producer: FutureProducer = crate::common::client_config(&addr)
        .create()
        .expect("producer");
    let produce = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                deliver(&producer, "entries", &format!("v{i}")).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let hostile = empty_topic_names(2_000_000);
    for _ in 0..5 {
        assert!(send_raw(&addr, &hostile).await.is_empty(), "refused");
    }
    let answer = send_raw(&addr, &empty_topic_names(100)).await;
    assert_eq!(&answer[4..8], &5i32.to_be_bytes(), "a hundred are answered");

    produce
        .await
        .expect("every message delivered while the hostile requests arrived");
    drop(producer);
    broker.stop().await;
}
