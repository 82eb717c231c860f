//! Prometheus metrics: one registry per process, served at `GET /metrics` by every HTTP
//! service of the process (in `--embedded` mode that includes the built-in broker's).
//!
//! Code records through the `metrics` facade (`metrics::counter!` and friends); the broker
//! crate does too, and stays silent when no registry is installed.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from 0.5 ms (a broker answer) to 10 s (a slow publish).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the registry (once per process; later calls do nothing).
pub fn init() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(err) = metrics::set_global_recorder(recorder) {
            tracing::warn!(%err, "metrics are off: another recorder is installed");
        }
        // The exporter leaves upkeep (draining histogram samples) to its user.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .ok();
        describe();
        handle
    });
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by service, route, method and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by service, route and method"
    );
    describe_counter!(
        "orders_published_total",
        "Orders Kafka acknowledged (POST /orders answered 2xx)"
    );
    describe_counter!(
        "orders_publish_failed_total",
        "Orders Kafka did not take in time (POST /orders answered 503)"
    );
    describe_counter!(
        "orders_consumed_total",
        "Orders the consumer handled, by outcome: stored, duplicate, deleted"
    );
    describe_counter!(
        "orders_retried_total",
        "Attempts to forward an order that failed and will be retried"
    );
    describe_counter!(
        "orders_dead_lettered_total",
        "Messages parked on the dead-letter topic"
    );
    describe_gauge!(
        "kafka_consumer_lag",
        "Messages not yet consumed, by topic and partition (from librdkafka statistics)"
    );
    describe_counter!(
        "kafka_broker_requests_total",
        "Requests the built-in broker answered, by Kafka API"
    );
    describe_histogram!(
        "kafka_broker_request_duration_seconds",
        Unit::Seconds,
        "Time the built-in broker took to answer, by Kafka API (Fetch includes its long-poll wait)"
    );
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
))]
pub async fn render() -> Response {
    let body = HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The method as a label: the standard ones by name, anything else as `other`, so a client
/// inventing methods cannot make new series without end.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times each request by its route pattern (e.g. `/orders/{id}`,
/// never the raw path, so the label set stays small).
pub async fn track(service: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "service" => service, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => service, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let invented = axum::http::Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&invented), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
