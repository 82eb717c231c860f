//! Shared HTTP pieces: RFC 9457 problem+json errors and a strict JSON body reader.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::order::FieldError;

/// Time allowed for a request body to arrive once its headers have (slow clients get 408).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An RFC 9457 problem detail, rendered as `application/problem+json`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    #[serde(rename = "status")]
    pub code: u16,
    pub detail: String,
    /// Each field at fault (for 422 answers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            code: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 422 listing each field at fault.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!(
            "the request has {} invalid field(s): {}",
            errors.len(),
            fields.join(", ")
        );
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} was not found"))
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Reads a JSON body: 415 unless the content type is JSON, 413 past the service's body limit
/// (set by [`crate::http_server::serve`]), 408 if it takes longer than [`BODY_TIMEOUT`], 400
/// when it does not parse (with line and column).
pub async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        let shown = if content_type.is_empty() {
            "none".to_string()
        } else {
            format!("{content_type:?}")
        };
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the body as Content-Type: application/json (got {shown})"),
        ));
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, usize::MAX))
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })?;
    let bytes = read.map_err(|err| {
        // The limit's error may be wrapped more than once (axum::Error around the body's).
        let too_big = std::iter::successors(std::error::Error::source(&err), |e| e.source())
            .any(|source| source.is::<http_body_util::LengthLimitError>());
        if too_big {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than this service accepts (http_max_body_bytes)",
            )
        } else {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("the body could not be read: {err}"),
            )
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|err| Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {err}")))
}

/// `GET /healthz`: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up", body = Object)))]
pub async fn healthz() -> axum::Json<Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// A `GET /readyz` answer: 200 with what was checked, or 503 saying what is missing.
pub fn readiness(check: Result<Value, impl std::fmt::Display>) -> Response {
    match check {
        Ok(details) => {
            axum::Json(serde_json::json!({"status": "ready", "checks": details})).into_response()
        }
        Err(why) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"))
            .with_retry_after(1)
            .into_response(),
    }
}

/// Paths every HTTP service has.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, crate::metrics::render))]
struct Operations;

/// What every HTTP service has besides its own routes: `/healthz`, `/metrics`, its OpenAPI
/// description at `/openapi.json` with Swagger UI at `/docs` (assets compiled in),
/// problem+json for unknown routes and methods, and request metrics labelled with `service`.
pub fn standard(
    router: axum::Router,
    service: &'static str,
    mut api: utoipa::openapi::OpenApi,
) -> axum::Router {
    api.merge(<Operations as utoipa::OpenApi>::openapi());
    api.info.version = env!("CARGO_PKG_VERSION").to_string();
    router
        .route("/healthz", axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", api))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::metrics::track(service, request, next)
        }))
}

/// Unknown routes answer problem+json too.
pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such endpoint")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not accept that method",
    )
}
