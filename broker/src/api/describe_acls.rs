//! DescribeAcls: there is no authorizer, so Kafka's answer for a broker without one.

use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};

pub fn handle(_ctx: &Ctx<'_>, _request: DescribeAclsRequest) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(ResponseError::SecurityDisabled.code())
        .with_error_message(Some(str_bytes("No Authorizer is configured on the broker")))
}
