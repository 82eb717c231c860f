//! `kill -9` of the whole process in the middle of a stream of orders, then a restart with
//! the same `--data-dir`: every order that got a 202 is in the Orders API exactly once, and
//! the stats agree. With `KAFKA_BROKERS` the process runs the services on that Kafka (the
//! Orders API's database is what must survive); without, it runs `--embedded` and the
//! built-in broker's log and group offsets must survive too.

use std::time::Instant;

use crate::common::init_logs;
use crate::common::process::{kafka_args, AppProcess};
use crate::common::stream::OrderStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_whole_process_loses_no_acknowledged_order() {
    init_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = kafka_args();
    args.extend(["--data-dir".into(), dir.path().into()]);
    let mut app = AppProcess::launch(args);
    app.healthy().await;

    let stream = OrderStream::start(&app.producer, 100);
    stream.until_acknowledged(200, 60).await;
    app.process.kill_9();
    let restarted = Instant::now();
    app.restart();
    stream.until_acknowledged(20, 60).await;
    let report = stream.finish(&app.api, restarted, 90).await;
    assert!(
        report.sent > report.acknowledged,
        "some orders were sent while the process was down: {report:?}"
    );

    // A clean stop now, and once more a start: everything is still there.
    assert!(app.process.terminate(), "a clean stop exits 0");
    app.restart();
    app.healthy().await;
    let stats: serde_json::Value = reqwest::get(format!("{}/orders/stats", app.api))
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
