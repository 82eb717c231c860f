//! Live follow: a topic's new messages as Server-Sent Events, for the script on its page.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{blocking, error_page, messages, C};
use crate::console::kafka::{self, Reader};
use crate::kafka::Context;

/// Server-Sent Events: every new message of the topic, as JSON, until the page goes away.
pub async fn live(State(console): C, Path(name): Path<String>) -> Response {
    let consumer: StreamConsumer<Context> = match kafka::client(&console.kafka, None) {
        Ok(c) => c,
        Err(e) => return error_page("Live", StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    let cluster = console.kafka.clone();
    let topic = name.clone();
    let info =
        match blocking(move || kafka::topic(&kafka::client::<Reader>(&cluster, None)?, &topic))
            .await
        {
            Ok(i) => i,
            Err(e) => return error_page("Live", StatusCode::NOT_FOUND, &e.to_string()),
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

fn follow(consumer: StreamConsumer<Context>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(consumer, |consumer| async move {
        loop {
            let Ok(m) = consumer.recv().await else {
                continue;
            };
            let data = messages::event(&crate::console::kafka::MessageInfo::of(&m));
            drop(m);
            return Some((Ok(Event::default().data(data.to_string())), consumer));
        }
    })
}
