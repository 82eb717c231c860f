//! FindCoordinator: this node coordinates every group (and would every transaction).

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{str_bytes, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let c = ctx.cluster;
    let node = BrokerId(c.config.node_id);
    let host = str_bytes(&c.advertised_host);
    if ctx.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key)
                    .with_node_id(node)
                    .with_host(host.clone())
                    .with_port(c.advertised_port)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    FindCoordinatorResponse::default()
        .with_node_id(node)
        .with_host(host)
        .with_port(c.advertised_port)
}
