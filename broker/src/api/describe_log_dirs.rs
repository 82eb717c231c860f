//! DescribeLogDirs: partition sizes in bytes, as admin tools and the console show them.
//! The single log dir is the data directory, or `(memory)` without one.

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use super::{str_bytes, topic_name, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let c = ctx.cluster;
    // null asks for every partition; a list names topics and partitions.
    let wanted: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.to_string(), t.partitions))
            .collect()
    });
    let topics = c
        .all_topics()
        .into_iter()
        .filter_map(|topic| {
            let asked = match &wanted {
                None => None,
                Some(list) => Some(list.iter().find(|(name, _)| *name == topic.name)?.1.clone()),
            };
            let partitions: Vec<DescribeLogDirsPartition> = (0..topic.partitions.len() as i32)
                .filter(|p| asked.as_ref().is_none_or(|a| a.contains(p)))
                .filter_map(|p| {
                    let size = topic.partition(p)?.log().size_bytes();
                    Some(
                        DescribeLogDirsPartition::default()
                            .with_partition_index(p)
                            .with_partition_size(size as i64),
                    )
                })
                .collect();
            (!partitions.is_empty()).then(|| {
                DescribeLogDirsTopic::default()
                    .with_name(topic_name(&topic.name))
                    .with_partitions(partitions)
            })
        })
        .collect();
    let log_dir = c
        .config
        .data_dir
        .as_ref()
        .map_or("(memory)".to_string(), |d| d.display().to_string());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(&log_dir))
        .with_topics(topics);
    // total/usable bytes exist from v4; left at their "unknown" default (-1).
    DescribeLogDirsResponse::default().with_results(vec![result])
}
