//! InitProducerId: a producer id for idempotent producers (Kafka 4 clients ask by default).
//! Transactions are not offered, so a transactional id is refused.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: InitProducerIdRequest) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        tracing::warn!(
            client = ctx.client_id,
            "refused InitProducerId: transactions are not supported"
        );
        return InitProducerIdResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    // KIP-360: a producer that already has an id may ask for its epoch to be bumped.
    let (id, epoch) = if request.producer_id.0 >= 0 && request.producer_epoch >= 0 {
        (
            request.producer_id.0,
            request.producer_epoch.saturating_add(1),
        )
    } else {
        (ctx.cluster.next_producer_id(), 0)
    };
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
