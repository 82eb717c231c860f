//! AddOffsetsToTxn: a group's offsets will be committed with the producer's transaction
//! (consume-transform-produce, `sendOffsetsToTransaction`).

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kafka_protocol::ResponseError;

use super::{fenced_since, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let outcome = if request.group_id.is_empty() {
        Err(ResponseError::InvalidGroupId)
    } else {
        ctx.cluster
            .txns
            .add_group(
                &request.transactional_id,
                request.producer_id.0,
                request.producer_epoch,
                &request.group_id,
            )
            .map_err(|err| fenced_since(ctx, err, 2))
    };
    AddOffsetsToTxnResponse::default().with_error_code(outcome.err().map_or(0, |e| e.code()))
}
