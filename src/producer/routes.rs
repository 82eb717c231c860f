//! `POST /orders`: validate, publish, and answer once Kafka has the order.
//!
//! - default (the seed's `emit()`): 202 Accepted after the broker acknowledged the write;
//! - `?wait=true` or `Prefer: wait=N` (the seed's `send()`): 201 Created with the order as
//!   the Orders API stored it, or 504 if no reply came in time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use serde_json::Value;

use super::idempotency::{fingerprint, Begin, Saved};
use super::ProducerService;
use crate::http::{self, Problem};
use crate::kafka::{headers, ORDER_CREATED};
use crate::order::{new_order_id, FieldError, NewOrder, Order};

type Svc = Arc<ProducerService>;

/// Longest wait a client may ask for with `Prefer: wait=N`.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The producer's OpenAPI description, generated from the handlers below.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "kafka-orders producer",
        description = "POST /orders publishes an order to the Kafka topic orders-topic."
    ),
    paths(create, readyz)
)]
struct ApiDoc;

pub fn router(service: Svc) -> Router {
    let routes = Router::new()
        .route("/orders", post(create))
        .route("/readyz", get(readyz))
        .with_state(service);
    http::standard(routes, "producer", <ApiDoc as utoipa::OpenApi>::openapi())
}

/// Ready when Kafka answers a metadata request for the orders topic.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Kafka answers; the orders topic has partitions", body = Object),
    (status = 503, description = "Kafka does not answer", body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(service): State<Svc>) -> Response {
    http::readiness(service.kafka_ready().await)
}

/// How long to wait for the consumer's reply, if the client asked to wait at all.
fn wait_for(
    service: &ProducerService,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Option<Duration>, Problem> {
    match query.get("wait").map(String::as_str) {
        None | Some("false") => {}
        Some("true") => return Ok(Some(service.reply_timeout)),
        Some(_) => {
            return Err(Problem::invalid(vec![FieldError::new(
                "wait",
                "must be true or false",
            )]))
        }
    }
    // RFC 7240: `Prefer: wait=10` (seconds), possibly among other preferences.
    let prefer = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']));
    for pref in prefer {
        if let Some(seconds) = pref.trim().strip_prefix("wait=") {
            let seconds: u64 = seconds.trim().parse().map_err(|_| {
                Problem::invalid(vec![FieldError::new(
                    "Prefer",
                    "wait must be a whole number of seconds",
                )])
            })?;
            return Ok(Some(Duration::from_secs(seconds).min(MAX_WAIT)));
        }
    }
    Ok(None)
}

/// Publishes an order. By default (the seed's `emit()`) the answer is 202 once Kafka has
/// acknowledged the write; with `?wait=true` or `Prefer: wait=N` (the seed's `send()`) it is
/// 201 with the order as the Orders API stored it.
#[utoipa::path(
    post, path = "/orders", tag = "orders",
    request_body(content = NewOrder, content_type = "application/json"),
    params(
        ("wait" = Option<bool>, Query, description = "Wait for the Orders API to store the order (request-response)"),
        ("Prefer" = Option<String>, Header, description = "RFC 7240 `wait=N`: wait up to N seconds (at most 60) for the stored order"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body gets the first answer again"),
    ),
    responses(
        (status = 202, description = "Kafka acknowledged the order", body = Order, headers(("Location" = String, description = "The order in the Orders API"))),
        (status = 201, description = "The Orders API stored the order (when waiting)", body = Order, headers(("Location" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit (http_max_body_bytes, 1 MiB by default)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The consumer could not store the order (when waiting)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Kafka did not take the order in time; retry after Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "Published, but no reply came in time (when waiting)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create(
    State(service): State<Svc>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let wait = wait_for(&service, &query, &headers)?;
    let value = http::json_body(&headers, body).await?;
    let new = NewOrder::from_json(&value).map_err(Problem::invalid)?;
    let key = headers
        .get("idempotency-key")
        .map(|k| k.to_str().map(str::to_string));
    // The key with the body's fingerprint; the body is only hashed when a key was sent.
    let key = match key {
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some((k, fingerprint(&value))),
        Some(_) => {
            return Err(Problem::invalid(vec![FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )]))
        }
        None => None,
    };
    let mut order_id = new_order_id();
    let mut claim = None;
    if let Some((key, print)) = &key {
        let begun = service
            .idempotency
            .begin(key, print, order_id)
            .await
            .map_err(|err| {
                tracing::error!(%err, "an Idempotency-Key could not be checked");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).with_retry_after(1)
            })?;
        match begun {
            Begin::New(held) => {
                order_id = held.order_id.clone();
                claim = Some(held);
            }
            Begin::Replay(saved) => return Ok(render(saved)),
            Begin::InFlight => {
                return Err(Problem::new(
                    StatusCode::CONFLICT,
                    "a request with this Idempotency-Key is still being processed",
                ))
            }
            Begin::Mismatch => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "this Idempotency-Key was already used with a different body",
                ))
            }
        }
    }
    let result = publish_order(&service, new.into_order(order_id), wait).await;
    if let (Some((key, print)), Some(claim)) = (&key, &claim) {
        match &result {
            Ok(saved) | Err(Failed::AfterPublishing(_, saved)) => {
                service
                    .idempotency
                    .finish(key, print, claim, saved.clone())
                    .await
            }
            Err(Failed::NotPublished(_)) => service.idempotency.abort(key, claim).await,
        }
    }
    result.map(render).map_err(Failed::into_problem)
}

/// A `POST /orders` that did not end in its answer.
enum Failed {
    /// Nothing was published: a retry with the same Idempotency-Key really tries again.
    NotPublished(Problem),
    /// The order was published (no reply came in time, a 504): a retry with the same key
    /// must not publish it again, and gets the order as accepted.
    AfterPublishing(Problem, Saved),
}

impl Failed {
    fn into_problem(self) -> Problem {
        match self {
            Failed::NotPublished(p) | Failed::AfterPublishing(p, _) => p,
        }
    }
}

impl From<Problem> for Failed {
    fn from(problem: Problem) -> Self {
        Failed::NotPublished(problem)
    }
}

fn render(saved: Saved) -> Response {
    (
        saved.status,
        [(header::LOCATION, saved.location)],
        Json(saved.body),
    )
        .into_response()
}

async fn publish_order(
    service: &ProducerService,
    order: Order,
    wait: Option<Duration>,
) -> Result<Saved, Failed> {
    let location = format!("{}/{}", service.orders_url, order.id);
    let correlation_id = uuid::Uuid::new_v4().to_string();
    if wait.is_some() && !service.replies.is_ready() {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the reply topic is not ready yet; try again shortly",
        )
        .with_retry_after(1)
        .into());
    }
    let reply = wait.map(|_| service.replies.register(&correlation_id));
    let published = send(service, &order, &correlation_id, wait.is_some()).await;
    if let Err(detail) = published {
        service.replies.forget(&correlation_id);
        metrics::counter!("orders_publish_failed_total").increment(1);
        tracing::warn!(order_id = %order.id, %detail, "publish failed");
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Kafka did not accept the order: {detail}"),
        )
        .with_retry_after(5)
        .into());
    }
    metrics::counter!("orders_published_total").increment(1);
    let accepted = Saved {
        status: StatusCode::ACCEPTED,
        location: location.clone(),
        body: serde_json::to_value(&order).unwrap_or_default(),
    };
    let (Some(reply), Some(wait)) = (reply, wait) else {
        return Ok(accepted);
    };
    match tokio::time::timeout(wait, reply).await {
        Ok(Ok(reply)) => reply_to_answer(reply, location).map_err(Failed::from),
        _ => {
            service.replies.forget(&correlation_id);
            let problem = Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("order {} was published, but no reply came within {} s; it will still be processed", order.id, wait.as_secs_f32()),
            );
            Err(Failed::AfterPublishing(problem, accepted))
        }
    }
}

/// The consumer's reply: `{"status": 201|200, "order": {...}}` or `{"status": 4xx, "error": "..."}`.
fn reply_to_answer(reply: Value, location: String) -> Result<Saved, Problem> {
    let status = reply.get("status").and_then(Value::as_u64).unwrap_or(502);
    match reply.get("order") {
        Some(order) if (200..300).contains(&status) => Ok(Saved {
            status: StatusCode::CREATED,
            location,
            body: order.clone(),
        }),
        _ => {
            let error = reply
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no detail given");
            Err(Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the order could not be stored: {error}"),
            ))
        }
    }
}

async fn send(
    service: &ProducerService,
    order: &Order,
    correlation_id: &str,
    wants_reply: bool,
) -> Result<(), PublishError> {
    let payload = serde_json::to_vec(order)?;
    let mut kafka_headers = OwnedHeaders::new()
        .insert(Header {
            key: headers::EVENT_TYPE,
            value: Some(ORDER_CREATED),
        })
        .insert(Header {
            key: headers::CONTENT_TYPE,
            value: Some("application/json"),
        })
        .insert(Header {
            key: headers::CORRELATION_ID,
            value: Some(correlation_id),
        });
    if wants_reply {
        kafka_headers = kafka_headers.insert(Header {
            key: headers::REPLY_TOPIC,
            value: Some(&service.reply_topic),
        });
    }
    let record = FutureRecord::to(&service.topic)
        .key(&order.id)
        .payload(&payload)
        .headers(kafka_headers);
    service
        .kafka
        .send(record, Timeout::After(service.publish_timeout))
        .await
        .map(|_| ())
        .map_err(|(err, _)| err.into())
}

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("the order could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}
