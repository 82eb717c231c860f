//! DescribeCluster: this node as the only broker and the controller clients are told of.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};

/// Kafka's `EndpointType`: 1 asks for brokers, 2 for controllers (KIP-919, v1+).
const CONTROLLER_ENDPOINTS: i8 = 2;

/// What a cluster resource allows when no authorizer is configured: every operation Kafka
/// defines for it (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
/// IDEMPOTENT_WRITE), one bit per `AclOperation` code.
const CLUSTER_OPERATIONS: i32 = 1 << 5 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12;

pub fn handle(ctx: &Ctx<'_>, request: DescribeClusterRequest) -> DescribeClusterResponse {
    let c = ctx.cluster;
    let response = DescribeClusterResponse::default().with_endpoint_type(request.endpoint_type);
    if request.endpoint_type == CONTROLLER_ENDPOINTS {
        // A broker answers for brokers only; controllers are asked on their own listener.
        return response
            .with_error_code(ResponseError::MismatchedEndpointType.code())
            .with_error_message(Some(str_bytes(
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
            )));
    }
    let node = BrokerId(c.config.node_id);
    let broker = DescribeClusterBroker::default()
        .with_broker_id(node)
        .with_host(str_bytes(&c.advertised_host))
        .with_port(c.advertised_port);
    let operations = if request.include_cluster_authorized_operations {
        CLUSTER_OPERATIONS
    } else {
        i32::MIN
    };
    response
        .with_cluster_id(str_bytes(&c.config.cluster_id))
        .with_controller_id(node)
        .with_brokers(vec![broker])
        .with_cluster_authorized_operations(operations)
}
