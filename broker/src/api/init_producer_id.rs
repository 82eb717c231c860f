//! InitProducerId: a producer id for idempotent producers (Kafka 4 clients ask by default),
//! and for transactional ones the id and epoch of their transactional id (see `txn`).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::{fenced_since, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let answer = match &request.transactional_id {
        Some(id) => {
            // KIP-360: a producer recovering from an error sends the id and epoch it has.
            let given = (request.producer_id.0 >= 0)
                .then_some((request.producer_id.0, request.producer_epoch));
            ctx.cluster
                .txns
                .init(ctx.cluster, id, request.transaction_timeout_ms, given)
                .map_err(|err| fenced_since(ctx, err, 4))
        }
        // Like Kafka for a producer without a transactional id, every call gets a fresh id at
        // epoch 0, whatever id and epoch the request carries (KIP-360's epoch bump applies to
        // transactional producers): a client cannot pick an id, or wrap an epoch.
        None => ctx
            .cluster
            .producer_ids
            .issue()
            .map(|id| (id, 0))
            .map_err(|err| {
                tracing::error!(%err, "cannot reserve producer ids");
                ResponseError::KafkaStorageError
            }),
    };
    match answer {
        Ok((id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(err) => InitProducerIdResponse::default()
            .with_error_code(err.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}
