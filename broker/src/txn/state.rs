//! One transactional id's state, as the transaction log stores it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Kafka's transaction states, less the ones a single coordinator never rests in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    /// Initialized, no transaction begun yet.
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnState {
    pub fn preparing(self) -> bool {
        matches!(self, Self::PrepareCommit | Self::PrepareAbort)
    }

    /// The name Kafka's tools show and ListTransactions filters by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
        }
    }
}

/// An offset a transaction will commit for a group when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    pub id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// The partitions of the open transaction, which its markers go to.
    pub partitions: BTreeSet<(String, i32)>,
    /// The groups whose offsets it commits (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    pub offsets: Vec<PendingOffset>,
    /// When the last transaction began (ms since the epoch; -1: none yet). Kept after it
    /// ended, as Kafka's DescribeTransactions shows it.
    pub started_ms: i64,
    /// Version 2: the producer id and epoch its last transaction ended with, before the bump
    /// (a retried EndTxn carries them).
    #[serde(default)]
    pub ended_at: Option<(i64, i16)>,
}

impl Txn {
    pub fn new(id: &str, producer_id: i64, timeout_ms: i32) -> Self {
        Self {
            id: id.to_string(),
            producer_id,
            epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            offsets: Vec::new(),
            started_ms: -1,
            ended_at: None,
        }
    }

    /// Opens a transaction, unless one is open.
    pub fn begin(&mut self) {
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.started_ms = crate::files::unix_millis();
        }
    }
}
