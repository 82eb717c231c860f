//! The Orders API's endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::store::{Ingested, ListQuery, OrderStore};
use crate::http::{self, Problem};
use crate::order::{self, FieldError, Order, Status};

pub type Store = Arc<OrderStore>;

pub fn router(store: Store) -> Router {
    let routes = Router::new()
        .route("/orders", get(list).post(ingest))
        .route("/orders/stats", get(stats))
        .route("/orders/{id}", get(get_one).patch(patch).delete(delete))
        .route("/readyz", get(readyz))
        .with_state(store);
    http::standard(routes, "orders-api")
}

/// Ready when the store answers (the Orders API itself does not talk to Kafka).
async fn readyz(State(store): State<Store>) -> Response {
    http::readiness(store.check().map(|kind| json!({"store": kind})))
}

fn location(order: &Order) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/orders/{}", order.id))]
}

/// Used by the consumer: stores the order once, however often it is delivered.
async fn ingest(State(store): State<Store>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let value = http::json_body(&headers, body).await?;
    let order = Order::from_json(&value).map_err(Problem::invalid)?;
    Ok(match store.ingest(order)? {
        Ingested::Created(order) => (StatusCode::CREATED, location(&order), Json(order)).into_response(),
        Ingested::Existing(order) => (StatusCode::OK, location(&order), Json(order)).into_response(),
        Ingested::Deleted => Problem::new(StatusCode::GONE, "this order was deleted; delivering it again does not bring it back").into_response(),
    })
}

fn parse_query(params: &HashMap<String, String>) -> Result<ListQuery, Problem> {
    let mut errors = Vec::new();
    let mut query = ListQuery::default();
    for (key, value) in params {
        match key.as_str() {
            "status" => match Status::parse(value) {
                Some(s) => query.status = Some(s),
                None => errors.push(FieldError::new("status", "must be one of pending, confirmed, shipped, delivered, cancelled")),
            },
            "userId" => query.user_id = Some(value.clone()),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => query.limit = Some(n),
                _ => errors.push(FieldError::new("limit", "must be a whole number from 1 to 10000")),
            },
            "offset" => match value.parse::<usize>() {
                Ok(n) => query.offset = n,
                Err(_) => errors.push(FieldError::new("offset", "must be a whole number, 0 or more")),
            },
            other => errors.push(FieldError::new(other, "unknown query parameter (use status, userId, limit, offset)")),
        }
    }
    if errors.is_empty() { Ok(query) } else { Err(Problem::invalid(errors)) }
}

/// All orders, newest first. `X-Total-Count` tells how many match before paging.
async fn list(State(store): State<Store>, Query(params): Query<HashMap<String, String>>) -> Result<Response, Problem> {
    let query = parse_query(&params)?;
    let (total, page) = store.list(&query);
    Ok(([("x-total-count", total.to_string())], Json(page)).into_response())
}

async fn stats(State(store): State<Store>) -> Json<Value> {
    Json(json!(store.stats()))
}

async fn get_one(State(store): State<Store>, Path(id): Path<String>) -> Result<Json<Order>, Problem> {
    store.get(&id).map(Json).ok_or_else(|| Problem::not_found(format!("order {id:?}")))
}

async fn delete(State(store): State<Store>, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    store.delete(&id)?.map(|_| StatusCode::NO_CONTENT).ok_or_else(|| Problem::not_found(format!("order {id:?}")))
}

const EDITABLE: [&str; 4] = ["status", "userId", "products", "totalAmount"];
const READ_ONLY: [&str; 3] = ["id", "createdAt", "updatedAt"];

/// Applies a partial update. The result must be a valid order (422 otherwise), and a status
/// change must follow the lifecycle (409 naming the allowed moves otherwise).
fn apply_patch(current: &Order, patch: &serde_json::Map<String, Value>) -> Result<Order, Problem> {
    let mut errors = Vec::new();
    for key in patch.keys().filter(|k| !EDITABLE.contains(&k.as_str())) {
        let why = if READ_ONLY.contains(&key.as_str()) { "is read-only" } else { "is not a field of an order" };
        errors.push(FieldError::new(key.clone(), why));
    }
    let mut next = current.clone();
    if let Some(v) = patch.get("userId") {
        match v.as_str().map(str::trim) {
            Some(u) if !u.is_empty() => next.user_id = u.to_string(),
            _ => errors.push(FieldError::new("userId", "must be a non-empty string")),
        }
    }
    let mut status = None;
    if let Some(v) = patch.get("status") {
        match v.as_str().and_then(Status::parse) {
            Some(s) => status = Some(s),
            None => errors.push(FieldError::new("status", "must be one of pending, confirmed, shipped, delivered, cancelled")),
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
        return Err(Problem::invalid(errors));
    }
    if let Some(to) = status {
        if !current.status.can_move_to(to) {
            let allowed: Vec<&str> = current.status.allowed_next().iter().map(|s| s.name()).collect();
            let allowed = if allowed.is_empty() { "none: it is final".to_string() } else { allowed.join(", ") };
            return Err(Problem::new(
                StatusCode::CONFLICT,
                format!("an order that is {} cannot become {}; allowed: {allowed}", current.status.name(), to.name()),
            ));
        }
        next.status = to;
    }
    next.updated_at = Some(order::now_rfc3339());
    Ok(next)
}

async fn patch(State(store): State<Store>, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Result<Json<Order>, Problem> {
    let value = http::json_body(&headers, body).await?;
    let Value::Object(changes) = value else {
        return Err(Problem::invalid(vec![FieldError::new("", "the body must be a JSON object")]));
    };
    match store.update(&id, &mut |current| apply_patch(current, &changes)) {
        None => Err(Problem::not_found(format!("order {id:?}"))),
        Some(result) => result.map(Json),
    }
}
