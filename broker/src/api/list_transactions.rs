//! ListTransactions: the transactional ids the coordinator knows, filtered by state, producer
//! id, how long the transaction has been open (v1) and an id pattern (v2).

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};

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

pub fn handle(ctx: &Ctx<'_>, request: ListTransactionsRequest) -> ListTransactionsResponse {
    let (known, unknown): (Vec<_>, Vec<_>) = request
        .state_filters
        .into_iter()
        .partition(|s| STATES.contains(&s.as_str()));
    let response = ListTransactionsResponse::default().with_unknown_state_filters(unknown);
    // Kafka matches the whole id against the pattern (Java's `Pattern.matches`).
    let pattern = match request.transactional_id_pattern.as_deref() {
        None | Some("") => None,
        Some(p) => match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(re) => Some(re),
            Err(_) => {
                return response.with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
    };
    let now = crate::files::unix_millis();
    let states = ctx
        .cluster
        .txns
        .all()
        .into_iter()
        .filter(|t| known.is_empty() || known.iter().any(|s| s.as_str() == t.state.name()))
        .filter(|t| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .contains(&ProducerId(t.producer_id))
        })
        .filter(|t| {
            request.duration_filter < 0
                // As Kafka: by the last transaction's start, whatever the state.
                || now.saturating_sub(t.started_ms) > request.duration_filter
        })
        .filter(|t| pattern.as_ref().is_none_or(|re| re.is_match(&t.id)))
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(str_bytes(&t.id).into())
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.name()))
        })
        .collect();
    response.with_transaction_states(states)
}
