//! ListTransactions: the broker has no transaction coordinator, so no transaction to list,
//! as a Kafka on which no transactional producer ever ran.

use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};

use super::Ctx;

/// Kafka's transaction states; a filter naming another one is echoed back as unknown.
const STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub fn handle(_ctx: &Ctx<'_>, request: ListTransactionsRequest) -> ListTransactionsResponse {
    let unknown = request
        .state_filters
        .into_iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .collect();
    ListTransactionsResponse::default().with_unknown_state_filters(unknown)
}
