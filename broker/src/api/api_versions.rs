//! ApiVersions: the served APIs and versions, straight from [`super::SUPPORTED`], and the
//! cluster's features (v3+).

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx, SUPPORTED};

/// Features as Kafka 4 reports them: (name, lowest supported, highest supported and finalized).
/// `transaction.version` 2 makes Kafka 4 clients speak KIP-890 part 2 (see `txn`).
const FEATURES: &[(&str, i16, i16)] = &[("transaction.version", 0, 2)];
/// The epoch of the finalized features: they never change on this broker.
const FEATURES_EPOCH: i64 = 1;

fn table() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}

pub fn handle(_ctx: &Ctx<'_>, _request: ApiVersionsRequest) -> ApiVersionsResponse {
    let supported = FEATURES
        .iter()
        .map(|(name, min, max)| {
            SupportedFeatureKey::default()
                .with_name(str_bytes(name))
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect();
    let finalized = FEATURES
        .iter()
        .map(|(name, _, max)| {
            FinalizedFeatureKey::default()
                .with_name(str_bytes(name))
                .with_min_version_level(*max)
                .with_max_version_level(*max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_api_keys(table())
        .with_supported_features(supported)
        .with_finalized_features_epoch(FEATURES_EPOCH)
        .with_finalized_features(finalized)
}

/// The answer to an ApiVersions request of a version we do not serve (sent as v0).
pub fn unsupported() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(table())
}
