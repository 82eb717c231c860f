//! What an orchestrator and a monitoring system see: `/healthz`, `/readyz` and `/metrics` on
//! the producer, the Orders API and the consumer's own port.

use std::time::Duration;

use kafka_orders::app::Services;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::process::AppProcess;
use crate::common::{eventually, exactly_once, seed_order, settings, TestApp};

async fn get(url: &str) -> (StatusCode, String, String) {
    let response = reqwest::get(url).await.expect("GET");
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    (
        response.status(),
        kind,
        response.text().await.expect("body"),
    )
}

/// The value of one sample line of the Prometheus text format, e.g.
/// `orders_published_total` or `http_requests_total{service="producer",...}`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            (metric == name && all)
                .then(|| value.parse().ok())
                .flatten()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    // The real binary in a process of its own, as the metrics registry is per process; with
    // the built-in broker in it, so the broker's metrics are recorded too.
    let mut app = AppProcess::launch(vec!["--embedded".into()]);
    app.healthy().await;
    let topic = app.topic.clone();
    let (producer, api, consumer) = (app.producer.clone(), app.api.clone(), app.consumer.clone());
    for base in [&producer, &api, &consumer] {
        assert_eq!(
            get(&format!("{base}/healthz")).await.0,
            StatusCode::OK,
            "{base}"
        );
    }
    let ready = |base: String| async move {
        let (status, _, body) = get(&format!("{base}/readyz")).await;
        (status == StatusCode::OK).then(|| serde_json::from_str::<Value>(&body).expect("json"))
    };
    let producer_ready = eventually(30, || ready(producer.clone())).await;
    assert_eq!(producer_ready["checks"]["kafka"], "reachable");
    assert_eq!(
        eventually(30, || ready(api.clone())).await["checks"]["store"],
        "memory"
    );
    let consumer_ready = eventually(30, || ready(consumer.clone())).await;
    assert_eq!(
        consumer_ready["checks"]["partitions"]
            .as_array()
            .expect("list")
            .len(),
        3
    );

    let client = reqwest::Client::new();
    for _ in 0..3 {
        let status = client
            .post(format!("{producer}/orders"))
            .json(&seed_order())
            .send()
            .await
            .expect("POST")
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    exactly_once(&api, 3).await;
    assert_eq!(
        client
            .get(format!("{api}/orders/nope"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::NOT_FOUND
    );

    let (status, kind, text) = get(&format!("{producer}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    assert_eq!(
        sample(&text, "orders_published_total", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "orders_consumed_total", &[("outcome", "stored")]),
        Some(3.0)
    );
    let posted = [
        ("service", "producer"),
        ("route", "/orders"),
        ("method", "POST"),
        ("status", "202"),
    ];
    assert_eq!(sample(&text, "http_requests_total", &posted), Some(3.0));
    // Routes are labelled by pattern, not by the raw path.
    let missing = [
        ("service", "orders-api"),
        ("route", "/orders/{id}"),
        ("status", "404"),
    ];
    assert_eq!(sample(&text, "http_requests_total", &missing), Some(1.0));
    let latency = [
        ("service", "producer"),
        ("route", "/orders"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        sample(&text, "http_request_duration_seconds_bucket", &latency),
        Some(3.0)
    );
    assert!(
        sample(&text, "kafka_broker_requests_total", &[("api", "Produce")])
            .is_some_and(|n| n >= 1.0)
    );
    assert!(sample(
        &text,
        "kafka_broker_request_duration_seconds_count",
        &[("api", "Fetch")]
    )
    .is_some_and(|n| n >= 1.0));
    // Lag comes from librdkafka's statistics, every 5 s, for partitions with a committed
    // offset (a partition no order went to has none yet).
    eventually(30, || async {
        let (_, _, text) = get(&format!("{consumer}/metrics")).await;
        sample(&text, "kafka_consumer_lag", &[("topic", &topic)]).filter(|lag| *lag == 0.0)
    })
    .await;
    assert!(app.process.terminate(), "a clean stop exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_and_swagger_ui_are_served() {
    let mut s = settings("unused:9092", "docs");
    s.broker.embedded = true;
    let app = TestApp::start(s, Services::All).await;
    let expect = [
        (
            &app.producer,
            vec!["/orders", "/readyz", "/healthz", "/metrics"],
        ),
        (
            &app.api,
            vec![
                "/orders",
                "/orders/stats",
                "/orders/{id}",
                "/readyz",
                "/healthz",
                "/metrics",
            ],
        ),
        (&app.consumer, vec!["/readyz", "/healthz", "/metrics"]),
    ];
    for (addr, paths) in expect {
        let (status, _, body) = get(&format!("{addr}/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut served: Vec<&str> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .map(String::as_str)
            .collect();
        let mut wanted = paths.clone();
        served.sort();
        wanted.sort();
        assert_eq!(served, wanted);
        let (status, kind, page) = get(&format!("{addr}/docs/")).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html"));
        assert!(page.contains("swagger-ui"), "{page}");
        let (status, _, script) = get(&format!("{addr}/docs/swagger-ui-bundle.js")).await;
        assert!(
            status == StatusCode::OK && script.len() > 100_000,
            "Swagger UI's assets are in the binary"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_kafka_is_unreachable() {
    let mut s = settings("127.0.0.1:1", "unready");
    s.producer.publish_timeout = Duration::from_secs(1);
    let app = TestApp::start(s, Services::All).await;
    for base in [app.producer.clone(), app.consumer.clone()] {
        let (status, kind, body) = get(&format!("{base}/readyz")).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "application/problem+json"),
            "{base}: {body}"
        );
        assert!(body.contains("not ready"), "{body}");
        assert_eq!(
            get(&format!("{base}/healthz")).await.0,
            StatusCode::OK,
            "alive, just not ready"
        );
    }
    app.stop().await;
}
