//! The Orders API's endpoints.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::list;
use super::stats::StatsView;
use super::store::{Ingested, OrderStore, StoreError, UpdateError};
use crate::http::{self, Problem};
use crate::order::{self, FieldError, Order, Status};

pub type Store = Arc<OrderStore>;

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        tracing::error!(%err, "the orders store failed");
        if err.is_refusal() {
            // Not worth a retry: the consumer parks such an order on the dead-letter topic.
            return Problem::new(StatusCode::UNPROCESSABLE_ENTITY, err.to_string());
        }
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).with_retry_after(1)
    }
}

/// Why a PATCH is refused.
#[derive(Debug)]
enum PatchError {
    Invalid(Vec<FieldError>),
    /// The status cannot move from `from` to `to`.
    Conflict {
        from: Status,
        to: Status,
    },
}

impl From<PatchError> for Problem {
    fn from(err: PatchError) -> Self {
        match err {
            PatchError::Invalid(errors) => Problem::invalid(errors),
            PatchError::Conflict { from, to } => {
                let allowed: Vec<&str> = from.allowed_next().iter().map(|s| s.name()).collect();
                let allowed = if allowed.is_empty() {
                    "none: it is final".to_string()
                } else {
                    allowed.join(", ")
                };
                Problem::new(
                    StatusCode::CONFLICT,
                    format!(
                        "an order that is {} cannot become {}; allowed: {allowed}",
                        from.name(),
                        to.name()
                    ),
                )
            }
        }
    }
}

/// The Orders API's OpenAPI description, generated from the handlers below.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "kafka-orders Orders API",
        description = "Stores orders (from the consumer) and answers queries and statistics."
    ),
    paths(list::list, ingest, stats, get_one, patch, delete, readyz)
)]
struct ApiDoc;

pub fn router(store: Store) -> Router {
    let routes = Router::new()
        .route("/orders", get(list::list).post(ingest))
        .route("/orders/stats", get(stats))
        .route("/orders/{id}", get(get_one).patch(patch).delete(delete))
        .route("/readyz", get(readyz))
        .with_state(store);
    http::standard(routes, "orders-api", <ApiDoc as utoipa::OpenApi>::openapi())
}

/// Ready when the store answers (the Orders API itself does not talk to Kafka).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "The store answers", body = Object),
    (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(store): State<Store>) -> Response {
    http::readiness(store.check().await.map(|kind| json!({"store": kind})))
}

fn location(order: &Order) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/orders/{}", order.id))]
}

/// Used by the consumer: stores the order once, however often it is delivered.
#[utoipa::path(post, path = "/orders", tag = "orders",
    request_body(content = Order, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored", body = Order, headers(("Location" = String))),
        (status = 200, description = "Already stored (a redelivery): nothing changed", body = Order, headers(("Location" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A stored row with this id failed validation at start and is kept aside", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "This order was deleted; a redelivery does not bring it back", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit (http_max_body_bytes, 1 MiB by default)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database could not save it; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn ingest(
    State(store): State<Store>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = http::json_body(&headers, body).await?;
    let order = Order::from_json(&value).map_err(Problem::invalid)?;
    Ok(match store.ingest(order).await? {
        Ingested::Created(order) => {
            (StatusCode::CREATED, location(&order), Json(order)).into_response()
        }
        Ingested::Existing(order) => {
            (StatusCode::OK, location(&order), Json(order)).into_response()
        }
        Ingested::Deleted => Problem::new(
            StatusCode::GONE,
            "this order was deleted; delivering it again does not bring it back",
        )
        .into_response(),
        Ingested::KeptAside => Problem::new(
            StatusCode::CONFLICT,
            "the database holds a row with this id that is not a valid order; it is kept aside (see the Orders API's log at start) and not replaced",
        )
        .into_response(),
    })
}

/// Totals over all stored orders, kept up to date on every change.
#[utoipa::path(get, path = "/orders/stats", tag = "orders", responses(
    (status = 200, description = "The statistics", body = StatsView),
    (status = 503, description = "The database did not answer; retry", body = Problem, content_type = "application/problem+json"),
))]
async fn stats(State(store): State<Store>) -> Result<Json<Value>, Problem> {
    Ok(Json(json!(store.stats().await?)))
}

/// One order.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = String, Path, description = "The order id")), responses(
    (status = 200, description = "The order", body = Order),
    (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The database did not answer; retry", body = Problem, content_type = "application/problem+json"),
))]
async fn get_one(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Order>, Problem> {
    store
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("order {id:?}")))
}

/// Deletes an order; its id stays known, so a redelivery does not bring it back.
#[utoipa::path(delete, path = "/orders/{id}", tag = "orders", params(("id" = String, Path, description = "The order id")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The database could not save the change; retry", body = Problem, content_type = "application/problem+json"),
))]
async fn delete(State(store): State<Store>, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    store
        .delete(id.clone())
        .await?
        .map(|_| StatusCode::NO_CONTENT)
        .ok_or_else(|| Problem::not_found(format!("order {id:?}")))
}

/// The body of `PATCH /orders/{id}`, for the OpenAPI description only: [`apply_patch`] reads
/// the JSON field by field, to name each field at fault.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
struct OrderPatch {
    status: Option<Status>,
    #[schema(min_length = 1, max_length = 255)]
    user_id: Option<String>,
    #[schema(min_items = 1)]
    products: Option<Vec<crate::order::Product>>,
    total_amount: Option<crate::money::Money>,
}

const EDITABLE: [&str; 4] = ["status", "userId", "products", "totalAmount"];
const READ_ONLY: [&str; 3] = ["id", "createdAt", "updatedAt"];

/// Applies a partial update. The result must be a valid order (422 otherwise), and a status
/// change must follow the lifecycle (409 naming the allowed moves otherwise).
fn apply_patch(
    current: &Order,
    patch: &serde_json::Map<String, Value>,
) -> Result<Order, PatchError> {
    let mut errors = Vec::new();
    for key in patch.keys().filter(|k| !EDITABLE.contains(&k.as_str())) {
        let why = if READ_ONLY.contains(&key.as_str()) {
            "is read-only"
        } else {
            "is not a field of an order"
        };
        errors.push(FieldError::new(key.clone(), why));
    }
    let mut next = current.clone();
    if let Some(v) = patch.get("userId") {
        match v.as_str().map(|u| (u, order::text_problem(u))) {
            Some((u, None)) => next.user_id = u.trim().to_string(),
            Some((_, Some(why))) => errors.push(FieldError::new("userId", why)),
            None => errors.push(FieldError::new("userId", "must be a non-empty string")),
        }
    }
    let mut status = None;
    if let Some(v) = patch.get("status") {
        match v.as_str().and_then(Status::parse) {
            Some(s) => status = Some(s),
            None => errors.push(FieldError::new(
                "status",
                "must be one of pending, confirmed, shipped, delivered, cancelled",
            )),
        }
    }
    if patch.contains_key("products") || patch.contains_key("totalAmount") {
        let (products, sum) = if patch.contains_key("products") {
            order::products(patch.get("products"), &mut errors)
        } else {
            (current.products.clone(), Some(current.total_amount))
        };
        let total = match patch.get("totalAmount") {
            Some(v) => crate::money::Money::from_json(v).unwrap_or_else(|e| {
                errors.push(FieldError::new("totalAmount", e.to_string()));
                current.total_amount
            }),
            None => current.total_amount,
        };
        order::check_total(total, sum, &mut errors);
        next.products = products;
        next.total_amount = total;
    }
    if !errors.is_empty() {
        return Err(PatchError::Invalid(errors));
    }
    if let Some(to) = status {
        if !current.status.can_move_to(to) {
            return Err(PatchError::Conflict {
                from: current.status,
                to,
            });
        }
        next.status = to;
    }
    next.updated_at = Some(order::now_rfc3339());
    Ok(next)
}

/// Changes some fields of an order. A status change must follow the lifecycle.
#[utoipa::path(patch, path = "/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    request_body(content = OrderPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed order", body = Order),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The status cannot move that way; `detail` names the allowed moves", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit (http_max_body_bytes, 1 MiB by default)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or read-only fields, listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database could not save the change; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn patch(
    State(store): State<Store>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Order>, Problem> {
    let value = http::json_body(&headers, body).await?;
    let Value::Object(changes) = value else {
        return Err(Problem::invalid(vec![FieldError::new(
            "",
            "the body must be a JSON object",
        )]));
    };
    match store
        .update(id.clone(), move |current| apply_patch(current, &changes))
        .await
    {
        Ok(order) => Ok(Json(order)),
        Err(UpdateError::NotFound) => Err(Problem::not_found(format!("order {id:?}"))),
        Err(UpdateError::Rejected(err)) => Err(err.into()),
        Err(UpdateError::Store(err)) => Err(err.into()),
    }
}
