//! EndTxn: commit or abort the producer's open transaction (markers to its partitions, its
//! staged offsets to their groups, see `txn::ending`).

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::{fenced_since, Ctx};
use crate::txn::TxnVersion;

pub fn handle(ctx: &Ctx<'_>, request: EndTxnRequest) -> EndTxnResponse {
    let outcome = ctx
        .cluster
        .txns
        .end(
            ctx.cluster,
            &request.transactional_id,
            (request.producer_id.0, request.producer_epoch),
            request.committed,
            TxnVersion::of(ctx.version, 5),
        )
        .map_err(|err| fenced_since(ctx, err, 2));
    // From v5 the answer carries the producer id and epoch to go on with (bumped).
    match outcome {
        Ok((id, epoch)) => EndTxnResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(err) => EndTxnResponse::default()
            .with_error_code(err.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}
