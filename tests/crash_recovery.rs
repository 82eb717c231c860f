//! `kill -9` of the whole process in the middle of a stream of orders, then a restart with
//! the same `--data-dir`: every order that got a 202 is in the Orders API exactly once, and
//! the stats agree. With `KAFKA_BROKERS` the process runs the services on that Kafka (the
//! Orders API's database is what must survive); without, it runs `--embedded` and the
//! built-in broker's log and group offsets must survive too.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::stream::OrderStream;
use common::{eventually, init_logs, real_kafka, Process};

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

struct Ports {
    producer: SocketAddr,
    api: SocketAddr,
    broker: SocketAddr,
    console: SocketAddr,
    consumer: SocketAddr,
}

fn launch(dir: &Path, ports: &Ports, name: &str) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafka-orders"));
    match real_kafka() {
        Some(brokers) => command.args(["--brokers", &brokers]),
        None => command.arg("--embedded"),
    };
    command
        .arg("--data-dir")
        .arg(dir)
        .env("KAFKA_ORDERS_TOPIC", format!("orders-{name}"))
        .env("KAFKA_ORDERS_GROUP", format!("group-{name}"))
        .env("KAFKA_ORDERS_PRODUCER_LISTEN", ports.producer.to_string())
        .env("KAFKA_ORDERS_ORDERS_API_LISTEN", ports.api.to_string())
        .env(
            "KAFKA_ORDERS_ORDERS_API_URL",
            format!("http://{}", ports.api),
        )
        .env("KAFKA_ORDERS_BROKER_LISTEN", ports.broker.to_string())
        .env("KAFKA_ORDERS_CONSOLE_LISTEN", ports.console.to_string())
        .env("KAFKA_ORDERS_CONSUMER_LISTEN", ports.consumer.to_string())
        .env("RUST_LOG", "warn");
    Process::spawn(&mut command)
}

async fn healthy(url: &str) {
    eventually(60, || async {
        reqwest::get(url)
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(drop)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_whole_process_loses_no_acknowledged_order() {
    init_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports {
        producer: free_port(),
        api: free_port(),
        broker: free_port(),
        console: free_port(),
        consumer: free_port(),
    };
    let name = uuid::Uuid::new_v4().simple().to_string();
    let (producer, api) = (
        format!("http://{}", ports.producer),
        format!("http://{}", ports.api),
    );
    let mut process = launch(dir.path(), &ports, &name);
    healthy(&format!("{producer}/healthz")).await;
    healthy(&format!("{api}/healthz")).await;

    let stream = OrderStream::start(&producer, 100);
    stream.until_acknowledged(200, 60).await;
    process.kill_9();
    let restarted = Instant::now();
    let mut process = launch(dir.path(), &ports, &name);
    stream.until_acknowledged(20, 60).await;
    let report = stream.finish(&api, restarted, 90).await;
    assert!(
        report.sent > report.acknowledged,
        "some orders were sent while the process was down: {report:?}"
    );

    // A clean stop now, and once more a start: everything is still there.
    let pid = process.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(
        process.0.wait().expect("exit").success(),
        "a clean stop exits 0"
    );
    let _process = launch(dir.path(), &ports, &name);
    healthy(&format!("{api}/healthz")).await;
    let stats: serde_json::Value = reqwest::get(format!("{api}/orders/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert!(
        stats["totalOrders"].as_u64().expect("count") >= report.acknowledged as u64,
        "{stats}"
    );
}
