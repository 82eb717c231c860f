//! The console's pages and form actions. Kafka calls block (rdkafka), so they run on the
//! blocking pool; every failure becomes a message on the page, never a blank page or a 500.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::Stream;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use serde_json::{json, Value};

use super::html::{self, esc, page, url};
use super::kafka::{self, GroupInfo, MessageInfo, TopicInfo};
use super::Console;

type C = State<Arc<Console>>;
type Params = Query<HashMap<String, String>>;

/// Most messages a page shows, and how far back a search looks per partition.
const PAGE_MAX: i64 = 200;
const SEARCH_WINDOW: i64 = 5_000;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

fn flash(params: &HashMap<String, String>) -> (Option<&str>, Option<&str>) {
    (
        params.get("notice").map(String::as_str),
        params.get("error").map(String::as_str),
    )
}

fn back(to: &str, key: &str, message: &str) -> Redirect {
    Redirect::to(&format!("{to}?{key}={}", url(message)))
}

fn dlq_count(topics: &[TopicInfo]) -> i64 {
    topics
        .iter()
        .filter(|t| t.name.ends_with(".dlq"))
        .map(TopicInfo::messages)
        .sum()
}

async fn snapshot(
    console: &Console,
) -> Result<(Vec<String>, Vec<TopicInfo>, Vec<GroupInfo>), String> {
    let brokers = console.brokers.clone();
    blocking(move || {
        let client: BaseConsumer = kafka::client(&brokers, None)?;
        let topics = kafka::topics(&client)?;
        let groups = kafka::groups(&client, &brokers, &topics)?;
        Ok((kafka::brokers(&client)?, topics, groups))
    })
    .await
}

fn broker_section(console: &Console, brokers: &[String]) -> String {
    let mut s = String::from("<h2>Broker</h2><table><tbody>");
    match &console.embedded {
        Some(stats) => {
            let st = stats.stats();
            let secs = (st.uptime_ms as f64 / 1000.0).max(0.001);
            let _ = write!(
                s,
                "<tr><th>Kind</th><td>kafka-orders built-in broker {}</td></tr><tr><th>Advertised</th><td>{}</td></tr>\
                 <tr><th>Uptime</th><td>{:.0} s</td></tr><tr><th>Requests</th><td>{} ({:.1}/s on average)</td></tr><tr><th>Connections accepted</th><td>{}</td></tr>",
                env!("CARGO_PKG_VERSION"),
                esc(&console.brokers),
                secs,
                st.requests,
                st.requests as f64 / secs,
                st.connections
            );
        }
        None => {
            let _ = write!(s, "<tr><th>Kind</th><td>Kafka cluster</td></tr><tr><th>Bootstrap</th><td>{}</td></tr>", esc(&console.brokers));
        }
    }
    let _ = write!(
        s,
        "<tr><th>Brokers (id, address)</th><td>{}</td></tr>",
        esc(&brokers.join(", "))
    );
    let _ = write!(
        s,
        "<tr><th>Console up</th><td>{:.0} s</td></tr></tbody></table>",
        console.started.elapsed().as_secs_f64()
    );
    s
}

fn human_bytes(n: i64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn topics_table(topics: &[TopicInfo]) -> String {
    let mut s = String::from(
        r#"<table id="topics"><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Earliest</th><th class="num">Latest</th><th class="num">Messages</th><th class="num">Size</th><th></th></tr></thead><tbody>"#,
    );
    for t in topics {
        let earliest: i64 = t.partitions.iter().map(|p| p.low).sum();
        let latest: i64 = t.partitions.iter().map(|p| p.high).sum();
        let class = if t.name.ends_with(".dlq") && t.messages() > 0 {
            r#" class="alert""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<tr data-topic="{n}"><td><a href="/topics/{u}"{class}>{n}</a></td><td class="num">{}</td><td class="num">{earliest}</td><td class="num">{latest}</td><td class="num">{}</td><td class="num">{}</td><td><form method="post" action="/topics/{u}/delete" onsubmit="return confirm('Delete topic {n}?')"><button class="danger">Delete</button></form></td></tr>"#,
            t.partitions.len(),
            t.messages(),
            t.size.map_or("—".to_string(), human_bytes),
            u = url(&t.name),
            n = esc(&t.name)
        );
    }
    s.push_str("</tbody></table>");
    s
}

fn groups_table(groups: &[GroupInfo]) -> String {
    let mut s = String::new();
    for g in groups {
        let _ = write!(
            s,
            r#"<h2 id="group-{id}">Group {name}</h2><p>State <b class="state">{state}</b> · assignor {proto} · {n} member(s) · total lag <b class="total-lag">{lag}</b></p>"#,
            id = url(&g.name),
            name = esc(&g.name),
            state = esc(&g.state),
            proto = esc(if g.protocol.is_empty() {
                "—"
            } else {
                &g.protocol
            }),
            n = g.members.len(),
            lag = g.total_lag()
        );
        s.push_str("<table><thead><tr><th>Client id</th><th>Host</th><th>Assigned partitions</th></tr></thead><tbody>");
        for m in &g.members {
            let assigned: Vec<String> =
                m.assigned.iter().map(|(t, p)| format!("{t}/{p}")).collect();
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.client_id),
                esc(&m.host),
                esc(&assigned.join(", "))
            );
        }
        if g.members.is_empty() {
            s.push_str(r#"<tr><td colspan="3" class="muted">no members</td></tr>"#);
        }
        s.push_str(r#"</tbody></table><table class="lag"><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">Latest</th><th class="num">Lag</th></tr></thead><tbody>"#);
        for l in &g.lag {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&l.topic),
                l.partition,
                l.committed,
                l.high,
                (l.high - l.committed).max(0)
            );
        }
        s.push_str("</tbody></table>");
    }
    if groups.is_empty() {
        s.push_str(r#"<p class="muted">No consumer groups yet.</p>"#);
    }
    s
}

fn error_page(title: &str, status: StatusCode, message: &str) -> Response {
    (status, Html(page(title, None, Some(message), ""))).into_response()
}

pub async fn overview(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let (brokers, topics, groups) = match snapshot(&console).await {
        Ok(s) => s,
        Err(e) => {
            return error_page(
                "Overview",
                StatusCode::BAD_GATEWAY,
                &format!("Kafka at {} is not reachable: {e}", console.brokers),
            )
        }
    };
    let dlq = dlq_count(&topics);
    let lag: i64 = groups.iter().map(GroupInfo::total_lag).sum();
    let mut body = format!(
        r#"<div class="cards"><div class="card"><b>{}</b><span>topics</span></div><div class="card"><b>{}</b><span>messages</span></div><div class="card"><b>{}</b><span>consumer groups</span></div><div class="card"><b>{lag}</b><span>total lag</span></div><div class="card"><b{}>{dlq}</b><span>dead letters</span></div></div>"#,
        topics.len(),
        topics.iter().map(TopicInfo::messages).sum::<i64>(),
        groups.len(),
        if dlq > 0 { r#" class="alert""# } else { "" }
    );
    body.push_str(&broker_section(&console, &brokers));
    body.push_str("<h2>Topics</h2>");
    body.push_str(&topics_table(&topics));
    body.push_str(&groups_table(&groups));
    Html(page("Overview", notice, error, &body)).into_response()
}

pub async fn topics(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let brokers = console.brokers.clone();
    let topics = match blocking(move || {
        kafka::topics(&kafka::client::<BaseConsumer>(&brokers, None)?)
    })
    .await
    {
        Ok(t) => t,
        Err(e) => {
            return error_page(
                "Topics",
                StatusCode::BAD_GATEWAY,
                &format!("cannot list topics: {e}"),
            )
        }
    };
    let body = format!(
        r#"<form class="inline" method="post" action="/topics"><label>New topic<input name="name" required pattern="[A-Za-z0-9._\-]{{1,249}}"></label><label>Partitions<input name="partitions" type="number" min="1" max="1000" value="3"></label><button>Create topic</button></form>{}"#,
        topics_table(&topics)
    );
    Html(page("Topics", notice, error, &body)).into_response()
}

#[derive(Deserialize)]
pub struct NewTopicForm {
    name: String,
    partitions: Option<String>,
}

pub async fn create_topic(State(console): C, Form(form): Form<NewTopicForm>) -> Redirect {
    let name = form.name.trim().to_string();
    let partitions = match form
        .partitions
        .as_deref()
        .unwrap_or("1")
        .trim()
        .parse::<i32>()
    {
        Ok(n) if (1..=1000).contains(&n) => n,
        _ => {
            return back(
                "/topics",
                "error",
                "partitions must be a whole number from 1 to 1000",
            )
        }
    };
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    match console
        .admin
        .create_topics(
            &[NewTopic::new(&name, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
    {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => back(
                "/topics",
                "notice",
                &format!("created topic {name} with {partitions} partition(s)"),
            ),
            Some(Err((_, code))) => back(
                "/topics",
                "error",
                &format!("cannot create topic {name:?}: {code}"),
            ),
            None => back("/topics", "error", "Kafka gave no answer"),
        },
        Err(e) => back(
            "/topics",
            "error",
            &format!("cannot create topic {name:?}: {e}"),
        ),
    }
}

pub async fn delete_topic(State(console): C, Path(name): Path<String>) -> Redirect {
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    match console.admin.delete_topics(&[&name], &options).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => back("/topics", "notice", &format!("deleted topic {name}")),
            Some(Err((_, code))) => back(
                "/topics",
                "error",
                &format!("cannot delete topic {name:?}: {code}"),
            ),
            None => back("/topics", "error", "Kafka gave no answer"),
        },
        Err(e) => back(
            "/topics",
            "error",
            &format!("cannot delete topic {name:?}: {e}"),
        ),
    }
}

fn number(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    match params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be a whole number, not {v:?}")),
    }
}

fn message_rows(messages: &[MessageInfo]) -> String {
    let mut s = String::new();
    for m in messages {
        let headers: Vec<String> = m.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let value = match &m.value {
            None => r#"<span class="muted">(null)</span>"#.to_string(),
            Some(v) => {
                let (json, text) = html::pretty(v);
                format!(
                    r#"<pre class="{}">{}</pre>"#,
                    if json { "json" } else { "text" },
                    esc(&text)
                )
            }
        };
        let _ = write!(
            s,
            r#"<tr><td class="num">{}</td><td class="num">{}</td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td><td>{value}</td></tr>"#,
            m.partition,
            m.offset,
            esc(&html::time(m.timestamp)),
            esc(m.key.as_deref().unwrap_or("(null)")),
            esc(&headers.join("\n"))
        );
    }
    s
}

/// Newest first. One partition pages back with `before`; all partitions show the newest of
/// each, merged by time. `q` keeps messages whose key or value contains it.
pub async fn topic(State(console): C, Path(name): Path<String>, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let (partition, before, limit) = match (
        number(&params, "partition"),
        number(&params, "before"),
        number(&params, "limit"),
    ) {
        (Ok(p), Ok(b), Ok(l)) => (p, b, l.unwrap_or(50).clamp(1, PAGE_MAX)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return error_page(&format!("Topic {name}"), StatusCode::BAD_REQUEST, &e)
        }
    };
    let query = params
        .get("q")
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty());
    let brokers = console.brokers.clone();
    let topic_name = name.clone();
    let q = query.clone();
    let loaded = blocking(move || {
        let info = kafka::topic(&kafka::client::<BaseConsumer>(&brokers, None)?, &topic_name)?;
        if let Some(p) = partition {
            if !info.partitions.iter().any(|x| i64::from(x.id) == p) {
                return Err(format!("topic {topic_name} has no partition {p}"));
            }
        }
        let mut messages = Vec::new();
        let mut note = None;
        for p in info.partitions.iter().filter(|x| partition.is_none_or(|want| i64::from(x.id) == want)) {
            let mut end = before.unwrap_or(p.high).min(p.high);
            if end < p.low {
                note = Some(format!("offset {end} is before the earliest offset {} of partition {}; showing from there", p.low, p.id));
                end = p.low;
            }
            let span = if q.is_some() { SEARCH_WINDOW } else { limit };
            let mut read = kafka::read(&brokers, &topic_name, p.id, (end - span).max(p.low), end)?;
            if let Some(q) = &q {
                read.retain(|m| m.key.as_deref().is_some_and(|k| k.contains(q.as_str())) || m.value.as_deref().is_some_and(|v| v.contains(q.as_str())));
            }
            messages.extend(read);
        }
        messages.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.offset.cmp(&a.offset)));
        messages.truncate(limit as usize);
        Ok((info, messages, note))
    })
    .await;
    let (info, messages, note) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&format!("Topic {name}"), StatusCode::NOT_FOUND, &e),
    };
    let u = url(&name);
    let mut body = String::from(
        r#"<table><thead><tr><th class="num">Partition</th><th class="num">Earliest</th><th class="num">Latest</th><th class="num">Messages</th></tr></thead><tbody>"#,
    );
    for p in &info.partitions {
        let _ = write!(
            body,
            r#"<tr><td class="num"><a href="/topics/{u}?partition={id}">{id}</a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            p.low,
            p.high,
            p.high - p.low,
            id = p.id
        );
    }
    body.push_str("</tbody></table>");
    let options: String = std::iter::once(r#"<option value="">all</option>"#.to_string())
        .chain(info.partitions.iter().map(|p| {
            let selected = if partition == Some(i64::from(p.id)) {
                " selected"
            } else {
                ""
            };
            format!(r#"<option value="{id}"{selected}>{id}</option>"#, id = p.id)
        }))
        .collect();
    let _ = write!(
        body,
        r#"<h2>Messages</h2><form class="inline" method="get" action="/topics/{u}"><label>Partition<select name="partition">{options}</select></label><label>Before offset<input name="before" type="number" min="0" value="{b}"></label><label>Show<input name="limit" type="number" min="1" max="{PAGE_MAX}" value="{limit}"></label><label>Search key or text<input name="q" value="{qv}"></label><button>Show</button></form>"#,
        b = before.map(|b| b.to_string()).unwrap_or_default(),
        qv = esc(query.as_deref().unwrap_or(""))
    );
    if let Some(note) = &note {
        let _ = write!(body, r#"<p class="notice">{}</p>"#, esc(note));
    }
    if query.is_some() {
        let _ = write!(
            body,
            r#"<p class="muted">Search looks at the newest {SEARCH_WINDOW} messages of each partition.</p>"#
        );
    }
    let _ = write!(
        body,
        r#"<label class="muted"><input type="checkbox" id="follow"> Follow live (new messages appear at the top)</label><table id="messages" data-live="/topics/{u}/live"><thead><tr><th class="num">Partition</th><th class="num">Offset</th><th>Timestamp</th><th>Key</th><th>Headers</th><th>Value</th></tr></thead><tbody>{}</tbody></table>"#,
        message_rows(&messages)
    );
    if messages.is_empty() {
        body.push_str(r#"<p class="muted">No messages here.</p>"#);
    }
    if let (Some(p), Some(oldest)) = (partition, messages.last()) {
        let _ = write!(
            body,
            r#"<div class="pager"><a href="/topics/{u}?partition={p}&before={}&limit={limit}">Older →</a></div>"#,
            oldest.offset
        );
    }
    let _ = write!(
        body,
        r#"<h2>Produce a message</h2><form class="inline" method="post" action="/topics/{u}/produce"><label>Key<input name="key"></label><label>Partition (blank: by key)<input name="partition" type="number" min="0"></label><label>Headers (one "name: value" a line)<textarea name="headers"></textarea></label><label>Value (JSON)<textarea name="value" required>{{}}</textarea></label><button>Send</button></form>"#
    );
    Html(page(&format!("Topic {name}"), notice, error, &body)).into_response()
}

#[derive(Deserialize)]
pub struct ProduceForm {
    key: Option<String>,
    partition: Option<String>,
    headers: Option<String>,
    value: String,
}

pub async fn produce(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<ProduceForm>,
) -> Redirect {
    let to = format!("/topics/{}", url(&name));
    if let Err(e) = serde_json::from_str::<Value>(&form.value) {
        return back(&to, "error", &format!("the value is not valid JSON: {e}"));
    }
    let mut headers = OwnedHeaders::new();
    for line in form
        .headers
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let Some((k, v)) = line.split_once(':') else {
            return back(
                &to,
                "error",
                &format!("header line {line:?} is not \"name: value\""),
            );
        };
        headers = headers.insert(Header {
            key: k.trim(),
            value: Some(v.trim()),
        });
    }
    let partition = match form
        .partition
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => match p.parse::<i32>() {
            Ok(p) if p >= 0 => Some(p),
            _ => {
                return back(
                    &to,
                    "error",
                    &format!("partition must be a whole number, not {p:?}"),
                )
            }
        },
    };
    let key = form.key.unwrap_or_default();
    let mut record = FutureRecord::to(&name)
        .payload(&form.value)
        .headers(headers);
    if !key.is_empty() {
        record = record.key(&key);
    }
    if let Some(p) = partition {
        record = record.partition(p);
    }
    match console.producer.send(record, Duration::from_secs(5)).await {
        Ok(d) => back(
            &to,
            "notice",
            &format!("sent to partition {} at offset {}", d.partition, d.offset),
        ),
        Err((e, _)) => back(
            &to,
            "error",
            &format!("Kafka did not take the message: {e}"),
        ),
    }
}

/// Server-Sent Events: every new message of the topic, as JSON, until the page goes away.
pub async fn live(State(console): C, Path(name): Path<String>) -> Response {
    let consumer: StreamConsumer = match kafka::client(&console.brokers, None) {
        Ok(c) => c,
        Err(e) => return error_page("Live", StatusCode::BAD_GATEWAY, &e),
    };
    let brokers = console.brokers.clone();
    let topic = name.clone();
    let info = match blocking(move || {
        kafka::topic(&kafka::client::<BaseConsumer>(&brokers, None)?, &topic)
    })
    .await
    {
        Ok(i) => i,
        Err(e) => return error_page("Live", StatusCode::NOT_FOUND, &e),
    };
    let mut tpl = TopicPartitionList::new();
    for p in &info.partitions {
        let _ = tpl.add_partition_offset(&name, p.id, Offset::Offset(p.high));
    }
    if let Err(e) = consumer.assign(&tpl) {
        return error_page("Live", StatusCode::BAD_GATEWAY, &e.to_string());
    }
    Sse::new(follow(consumer))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn follow(consumer: StreamConsumer) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(consumer, |consumer| async move {
        loop {
            let Ok(m) = consumer.recv().await else {
                continue;
            };
            let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
            let headers: Vec<(String, String)> = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), text(h.value).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            let value = text(m.payload()).map(|v| html::pretty(&v).1);
            let data = json!({
                "partition": m.partition(), "offset": m.offset(), "timestamp": html::time(m.timestamp().to_millis()),
                "key": text(m.key()), "headers": headers, "value": value,
            });
            drop(m);
            return Some((Ok(Event::default().data(data.to_string())), consumer));
        }
    })
}

pub async fn groups(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    match snapshot(&console).await {
        Ok((_, _, groups)) => Html(page(
            "Consumer groups",
            notice,
            error,
            &groups_table(&groups),
        ))
        .into_response(),
        Err(e) => error_page(
            "Consumer groups",
            StatusCode::BAD_GATEWAY,
            &format!("cannot describe groups: {e}"),
        ),
    }
}

async fn get_json(console: &Console, path: &str) -> Result<Value, String> {
    let base = console
        .orders_api
        .as_deref()
        .ok_or("no Orders API is configured for this console (orders_api_url)")?;
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response = console
        .http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("the Orders API at {base} is not reachable: {e}"))?;
    response.json().await.map_err(|e| e.to_string())
}

/// Orders per minute over the last 15 minutes, from the orders' creation times.
fn per_minute(orders: &[Value]) -> Vec<(String, u64)> {
    let now = time::OffsetDateTime::now_utc();
    let mut buckets = vec![0u64; 15];
    for o in orders {
        let Some(created) = o["createdAt"].as_str().and_then(|c| {
            time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()
        }) else {
            continue;
        };
        let age = (now - created).whole_minutes();
        if (0..15).contains(&age) {
            buckets[14 - age as usize] += 1;
        }
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            (
                if i == 14 {
                    "this minute".into()
                } else {
                    format!("{} min ago", 14 - i)
                },
                n,
            )
        })
        .collect()
}

pub async fn orders(State(console): C) -> Response {
    let (stats, latest) = match (
        get_json(&console, "/orders/stats").await,
        get_json(&console, "/orders?limit=1000").await,
    ) {
        (Ok(s), Ok(l)) => (s, l.as_array().cloned().unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => return error_page("Orders", StatusCode::BAD_GATEWAY, &e),
    };
    let mut body = format!(
        r#"<div class="cards"><div class="card"><b id="total-orders">{}</b><span>orders</span></div><div class="card"><b>{}</b><span>revenue</span></div><div class="card"><b>{}</b><span>average order</span></div><div class="card"><b>{}</b><span>items</span></div><div class="card"><b>{}</b><span>customers</span></div></div>"#,
        stats["totalOrders"],
        stats["totalRevenue"],
        stats["averageOrderValue"],
        stats["totalItems"],
        stats["uniqueUsers"]
    );
    let by_status: Vec<(String, u64)> = stats["ordersByStatus"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let _ = write!(
        body,
        "<h2>Orders per status</h2>{}<h2>Orders per minute</h2>{}",
        html::bars(&by_status),
        html::bars(&per_minute(&latest))
    );
    body.push_str(r#"<h2>Latest orders</h2><table><thead><tr><th>Id</th><th>User</th><th>Status</th><th class="num">Total</th><th>Created</th></tr></thead><tbody>"#);
    for o in latest.iter().take(20) {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            esc(o["id"].as_str().unwrap_or("")),
            esc(o["userId"].as_str().unwrap_or("")),
            esc(o["status"].as_str().unwrap_or("")),
            o["totalAmount"],
            esc(o["createdAt"].as_str().unwrap_or(""))
        );
    }
    body.push_str("</tbody></table>");
    Html(page("Orders", None, None, &body)).into_response()
}

pub async fn not_found() -> Response {
    error_page("Not found", StatusCode::NOT_FOUND, "There is no such page.")
}
