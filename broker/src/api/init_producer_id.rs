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
    // Like Kafka for a producer without a transactional id, every call gets a fresh id at
    // epoch 0, whatever id and epoch the request carries (KIP-360's epoch bump applies to
    // transactional producers): a client cannot pick an id, or wrap an epoch.
    match ctx.cluster.producer_ids.issue() {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(err) => {
            tracing::error!(%err, "cannot reserve producer ids");
            InitProducerIdResponse::default()
                .with_error_code(ResponseError::KafkaStorageError.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        }
    }
}
