//! Values from Kafka, the Orders API or the query string are never markup: every page part that
//! shows one is rendered here with a hostile value, which must come out escaped.

use serde_json::json;

use super::{groups, layout, messages, orders, topic_settings, topics};
use crate::console::error::ConsoleError;
use crate::console::kafka::{
    GroupInfo, LagInfo, MemberInfo, MessageInfo, PartitionInfo, TopicInfo, Topics,
};
use crate::console::topic_configs::ConfigInfo;

const HOSTILE: &str = r#"<script>alert("x")</script>'"#;
const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'";

/// No tag and no bare double quote (every attribute is double-quoted) got through, and the
/// value is shown, escaped, exactly `times` times.
fn assert_escaped(html: &str, times: usize) {
    assert!(
        !html.contains("<script>"),
        "a script tag got through: {html}"
    );
    assert!(!html.contains(r#""x""#), "a quote got through: {html}");
    assert_eq!(html.matches(ESCAPED).count(), times, "{html}");
}

#[test]
fn the_page_frame_escapes_title_notice_and_error() {
    let html = layout::page(HOSTILE, Some(HOSTILE), Some(HOSTILE), maud::html! {}).into_string();
    assert_escaped(&html, 4);
}

#[test]
fn the_topics_table_escapes_names_in_text_attributes_links_and_script() {
    let topic = TopicInfo {
        name: HOSTILE.into(),
        partitions: vec![PartitionInfo {
            id: 0,
            low: 0,
            high: 1,
        }],
        size: None,
    };
    let topics = Topics {
        list: vec![topic],
        sizes_unknown: Some(HOSTILE.to_string()),
    };
    let html = topics::table(&topics, Some("token")).into_string();
    // The name (as text, as data-topic and in the delete question) and the note on sizes.
    assert_escaped(&html, 4);
    assert!(html.contains(r#"href="/topics/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%27""#));
    // The question is data for the script file, not inline script (the CSP allows none).
    assert!(!html.contains("onsubmit"));
    assert!(html.contains(r#"name="csrf" value="token""#));
    // Read-only: no forms at all.
    let read_only = topics::table(&topics, None).into_string();
    assert!(!read_only.contains("<form"), "{read_only}");
}

#[test]
fn the_groups_section_escapes_every_field() {
    let group = GroupInfo {
        name: HOSTILE.into(),
        state: HOSTILE.into(),
        protocol: HOSTILE.into(),
        members: vec![MemberInfo {
            client_id: HOSTILE.into(),
            host: HOSTILE.into(),
            assigned: vec![(HOSTILE.into(), 0)],
        }],
        lag: Ok(vec![LagInfo {
            topic: HOSTILE.into(),
            partition: 0,
            committed: 0,
            high: 0,
        }]),
    };
    let html = groups::section(&[group]).into_string();
    assert_escaped(&html, 7);
    assert!(html.contains(r#"id="group-%3Cscript%3E"#));
}

#[test]
fn message_rows_escape_key_headers_and_values() {
    let text = MessageInfo {
        partition: 0,
        offset: 0,
        timestamp: None,
        key: Some(HOSTILE.into()),
        headers: vec![(HOSTILE.into(), Some(HOSTILE.into()))],
        value: Some(HOSTILE.into()),
        headers_intact: true,
    };
    let json = MessageInfo {
        key: None,
        headers: vec![],
        value: Some(json!({ "v": HOSTILE }).to_string().into_bytes()),
        ..text
    };
    let html = messages::rows(&[text, json], Some(HOSTILE)).into_string();
    assert_escaped(&html, 4);
    assert!(html.contains(
        r#"<pre class="json">{
  &quot;v&quot;: &quot;&lt;script&gt;alert(\&quot;x\&quot;)&lt;/script&gt;'&quot;
}</pre>"#
    ));
}

#[test]
fn the_orders_table_and_charts_escape_what_the_orders_api_says() {
    let order = json!({
        "id": HOSTILE, "userId": HOSTILE, "status": HOSTILE, "createdAt": HOSTILE,
        "totalAmount": HOSTILE,
    });
    let html = orders::table(&[order]).into_string();
    assert_escaped(&html, 4);
    assert!(html.contains(r#"<td class="num">&quot;&lt;script&gt;alert(\&quot;x\&quot;)"#));
    let chart = orders::bars(&[(HOSTILE.into(), 3)]).into_string();
    assert_escaped(&chart, 1);
}

#[test]
fn the_settings_page_escapes_the_topic_and_what_the_broker_describes() {
    let config = |name: &str, source| ConfigInfo {
        name: name.into(),
        value: Some(HOSTILE.into()),
        source,
        read_only: false,
        sensitive: false,
    };
    let configs = Ok(vec![
        config(HOSTILE, "default"),
        config("retention.ms", "topic"),
    ]);
    let html = topic_settings::body(HOSTILE, 1, &configs, Some("token")).into_string();
    // The topic in the back link; the odd config's name, data-config and value; retention.ms's
    // value in the table, in its field and as the field's placeholder.
    assert_escaped(&html, 7);
    assert!(html
        .contains(r#"action="/topics/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%27/settings""#));
    let failed = Err(ConsoleError::Input(HOSTILE.into()));
    let html = topic_settings::body(HOSTILE, 1, &failed, None).into_string();
    assert_escaped(&html, 2);
    assert!(!html.contains("<form"), "read-only: no forms: {html}");
}
