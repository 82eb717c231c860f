//! `GET /orders`: one page of orders, newest first, and the way to the next page.
//!
//! Every answer is a page, so one request never serializes the whole store: [`DEFAULT_LIMIT`]
//! orders unless `limit` asks for more, at most [`MAX_LIMIT`]. Paging is by `offset`, as it
//! was before pages had a default size, and a `Link: <…>; rel="next"` header (RFC 8288) names
//! the next page while one remains.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;

use super::routes::Store;
use super::store::ListQuery;
use crate::http::Problem;
use crate::order::{FieldError, Status};

/// Orders in a page when the request does not give a `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` a request may give.
pub const MAX_LIMIT: usize = 1000;

fn parse_query(params: &HashMap<String, String>) -> Result<ListQuery, Problem> {
    let mut errors = Vec::new();
    let mut query = ListQuery {
        limit: Some(DEFAULT_LIMIT),
        ..ListQuery::default()
    };
    for (key, value) in params {
        match key.as_str() {
            "status" => match Status::parse(value) {
                Some(s) => query.status = Some(s),
                None => errors.push(FieldError::new(
                    "status",
                    "must be one of pending, confirmed, shipped, delivered, cancelled",
                )),
            },
            "userId" => query.user_id = Some(value.clone()),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => query.limit = Some(n),
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )),
            },
            "offset" => match value.parse::<i32>() {
                Ok(n) if n >= 0 => query.offset = n as usize,
                _ => errors.push(FieldError::new(
                    "offset",
                    "must be a whole number from 0 to 2147483647",
                )),
            },
            other => errors.push(FieldError::new(
                other,
                "unknown query parameter (use status, userId, limit, offset)",
            )),
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(Problem::invalid(errors))
    }
}

/// The `Link` header value naming the page after the one that showed `shown` of `total`
/// orders, with the same filters and page size; none after the last page.
fn next_page(query: &ListQuery, shown: usize, total: usize) -> Option<String> {
    let offset = query.offset + shown;
    if offset >= total {
        return None;
    }
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    if let Some(status) = query.status {
        next.append_pair("status", status.name());
    }
    if let Some(user) = &query.user_id {
        next.append_pair("userId", user);
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    next.append_pair("limit", &limit.to_string())
        .append_pair("offset", &offset.to_string());
    Some(format!("</orders?{}>; rel=\"next\"", next.finish()))
}

/// One page of orders, newest first: 100 unless `limit` says (at most 1000). `X-Total-Count`
/// tells how many match; `Link` with `rel="next"` names the next page while one remains.
#[utoipa::path(get, path = "/orders", tag = "orders",
    params(
        ("status" = Option<Status>, Query, description = "Only orders with this status"),
        ("userId" = Option<String>, Query, description = "Only this user's orders"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Orders in the page (100 when absent)"),
        ("offset" = Option<u32>, Query, minimum = 0, maximum = 2147483647, description = "Skip this many"),
    ),
    responses(
        (status = 200, description = "The page of orders", body = Vec<crate::order::Order>, headers(
            ("X-Total-Count" = u64, description = "Orders matching before paging"),
            ("Link" = String, description = "`</orders?…&offset=N>; rel=\"next\"`: the next page, while one remains"),
        )),
        (status = 422, description = "A bad or unknown query parameter (a `limit` over 1000, say), listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database did not answer; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let query = parse_query(&params)?;
    let (total, page) = store.list(&query).await?;
    let next = next_page(&query, page.len(), total).map(|link| (header::LINK, link));
    let headers = AppendHeaders(
        [(
            header::HeaderName::from_static("x-total-count"),
            total.to_string(),
        )]
        .into_iter()
        .chain(next),
    );
    Ok((headers, Json(page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, Problem> {
        let params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_query(&params)
    }

    #[test]
    fn a_page_has_the_default_size_unless_limit_says_and_never_more_than_the_maximum() {
        assert_eq!(query(&[]).expect("valid").limit, Some(DEFAULT_LIMIT));
        assert_eq!(
            query(&[("limit", "1000")]).expect("valid").limit,
            Some(MAX_LIMIT)
        );
        for refused in ["1001", "0", "ten"] {
            let problem = query(&[("limit", refused)]).expect_err(refused);
            assert_eq!(problem.errors[0].field, "limit", "{refused}");
        }
    }

    #[test]
    fn the_next_page_keeps_the_filters_and_the_size_and_the_last_page_has_none() {
        let q = query(&[
            ("userId", "ann & bob"),
            ("status", "shipped"),
            ("limit", "10"),
        ])
        .expect("valid");
        assert_eq!(
            next_page(&q, 10, 25).as_deref(),
            Some("</orders?status=shipped&userId=ann+%26+bob&limit=10&offset=10>; rel=\"next\"")
        );
        let last = ListQuery { offset: 20, ..q };
        assert_eq!(next_page(&last, 5, 25), None);
    }
}
