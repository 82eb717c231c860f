//! The consumer groups page, and the groups section it shares with the overview: members,
//! their assignments, and the lag of every partition.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{error_page, flash, layout, snapshot, url, Params, C};
use crate::console::kafka::{GroupInfo, MemberInfo};

pub async fn groups(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    match snapshot(&console).await {
        Ok((_, _, groups)) => {
            layout::page("Consumer groups", notice, error, section(&groups)).into_response()
        }
        Err(e) => error_page(
            "Consumer groups",
            StatusCode::BAD_GATEWAY,
            &format!("cannot describe groups: {e}"),
        ),
    }
}

pub fn section(groups: &[GroupInfo]) -> Markup {
    html! {
        @for g in groups {
            h2 id={ "group-" (url(&g.name)) } { "Group " a href={ "/groups/" (url(&g.name)) } { (g.name) } }
            p {
                "State " b.state { (g.state) }
                " · assignor " (if g.protocol.is_empty() { "—" } else { &g.protocol })
                " · " (g.members.len()) " member(s) · total lag " b.total-lag { (g.total_lag()) }
            }
            (members(&g.members))
            table.lag {
                thead {
                    tr {
                        th { "Topic" }
                        th.num { "Partition" }
                        th.num { "Committed" }
                        th.num { "Latest" }
                        th.num { "Lag" }
                    }
                }
                tbody {
                    @if let Err(why) = &g.lag {
                        tr { td.muted colspan="5" { "Lag not shown: " (why) } }
                    }
                    @for l in g.lag.iter().flatten() {
                        tr {
                            td { (l.topic) }
                            td.num { (l.partition) }
                            td.num { (l.committed) }
                            td.num { (l.high) }
                            td.num { ((l.high - l.committed).max(0)) }
                        }
                    }
                }
            }
        }
        @if groups.is_empty() {
            p.muted { "No consumer groups yet." }
        }
    }
}

fn members(members: &[MemberInfo]) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th { "Client id" }
                    th { "Host" }
                    th { "Assigned partitions" }
                }
            }
            tbody {
                @for m in members {
                    @let assigned: Vec<String> = m.assigned.iter().map(|(t, p)| format!("{t}/{p}")).collect();
                    tr {
                        td { (m.client_id) }
                        td { (m.host) }
                        td { (assigned.join(", ")) }
                    }
                }
                @if members.is_empty() {
                    tr { td.muted colspan="3" { "no members" } }
                }
            }
        }
    }
}
