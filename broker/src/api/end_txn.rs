//! EndTxn: commit or abort the producer's open transaction (markers to its partitions, its
//! staged offsets to their groups, see `txn::ending`).

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::{fenced_since, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: EndTxnRequest) -> EndTxnResponse {
    let outcome = ctx
        .cluster
        .txns
        .end(
            ctx.cluster,
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .map_err(|err| fenced_since(ctx, err, 2));
    EndTxnResponse::default()
        .with_error_code(outcome.err().map_or(0, |e| e.code()))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
