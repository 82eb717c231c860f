//! Small helpers for server-rendered pages: escaping and the page frame.

use std::fmt::Write;

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value.
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A whole page: title, navigation, an optional notice or error, and the body.
pub fn page(title: &str, notice: Option<&str>, error: Option<&str>, body: &str) -> String {
    let mut flash = String::new();
    if let Some(n) = notice {
        let _ = write!(flash, r#"<p class="notice" role="status">{}</p>"#, esc(n));
    }
    if let Some(e) = error {
        let _ = write!(flash, r#"<p class="error" role="alert">{}</p>"#, esc(e));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · kafka-orders console</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><header><a class="brand" href="/">kafka-orders console</a>
<nav><a href="/">Overview</a><a href="/topics">Topics</a><a href="/groups">Consumer groups</a><a href="/orders">Orders</a></nav></header>
<main><h1>{title}</h1>{flash}{body}</main><script src="/assets/app.js"></script></body></html>"#,
        title = esc(title)
    )
}

/// Pretty-prints JSON text; anything else is shown as it is.
pub fn pretty(value: &str) -> (bool, String) {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(v) => (
            true,
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| value.to_string()),
        ),
        Err(_) => (false, value.to_string()),
    }
}

pub fn time(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "—".into() };
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A horizontal bar chart as inline SVG (no script, no library).
pub fn bars(rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 420 {}" role="img">"#,
        rows.len() * 24 + 4
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = i * 24 + 2;
        let w = (*value as f64 / max as f64 * 260.0).round();
        let _ = write!(
            svg,
            r#"<text x="0" y="{ty}">{label}</text><rect x="110" y="{y}" width="{w}" height="18" rx="3"></rect><text x="{tx}" y="{ty}">{value}</text>"#,
            ty = y + 14,
            tx = 116.0 + w,
            label = esc(label)
        );
    }
    svg.push_str("</svg>");
    svg
}
