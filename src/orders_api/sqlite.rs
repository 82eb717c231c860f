//! The Orders API's SQLite database (with `--data-dir`).
//!
//! SQLite (through rusqlite, with SQLite compiled in) because it is the most tested embedded
//! database there is, needs no server, and its file can be opened with the `sqlite3` tool to
//! see what was kept. Each order is one row holding its JSON; a deleted order keeps its row
//! with no JSON, as a tombstone. The WAL journal makes each write one append.

use std::path::Path;

use anyhow::Context;
use rusqlite::{params, Connection};

use crate::order::Order;

pub struct Db(Connection);

/// One row read back at start.
pub struct Row {
    pub seq: i64,
    pub id: String,
    pub state: RowState,
}

pub enum RowState {
    Stored(Order),
    Deleted,
    /// The row does not hold a valid order (written by another version, or edited by hand):
    /// it stays in the database untouched, and why is said.
    Invalid(String),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    body TEXT
)";

impl Db {
    /// Opens (or creates) `dir/orders.db` and reads every row, oldest first.
    pub fn open(dir: &Path, sync_every_write: bool) -> anyhow::Result<(Self, Vec<Row>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("orders.db");
        let conn = Connection::open(&path)
            .with_context(|| format!("cannot open the orders database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if sync_every_write { "FULL" } else { "NORMAL" },
        )?;
        conn.execute(SCHEMA, [])?;
        let rows = Self::read_all(&conn)
            .with_context(|| format!("cannot read the orders database {}", path.display()))?;
        Ok((Self(conn), rows))
    }

    fn read_all(conn: &Connection) -> anyhow::Result<Vec<Row>> {
        let mut statement = conn.prepare("SELECT seq, id, body FROM orders ORDER BY seq")?;
        let mut rows = Vec::new();
        let mut cursor = statement.query([])?;
        while let Some(row) = cursor.next()? {
            let (seq, id, body): (i64, String, Option<String>) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            let state = match body {
                None => RowState::Deleted,
                Some(body) => match serde_json::from_str::<serde_json::Value>(&body) {
                    Err(err) => RowState::Invalid(format!("not JSON: {err}")),
                    Ok(value) => match Order::from_json(&value) {
                        Ok(order) => RowState::Stored(order),
                        Err(errors) => {
                            let fields: Vec<&str> =
                                errors.iter().map(|e| e.field.as_str()).collect();
                            RowState::Invalid(format!("invalid field(s): {}", fields.join(", ")))
                        }
                    },
                },
            };
            rows.push(Row { seq, id, state });
        }
        Ok(rows)
    }

    fn json(order: &Order) -> String {
        serde_json::to_string(order).unwrap_or_default()
    }

    pub fn insert(&self, seq: i64, order: &Order) -> rusqlite::Result<()> {
        let mut statement = self
            .0
            .prepare_cached("INSERT INTO orders (seq, id, body) VALUES (?1, ?2, ?3)")?;
        statement
            .execute(params![seq, order.id, Self::json(order)])
            .map(drop)
    }

    pub fn update(&self, order: &Order) -> rusqlite::Result<()> {
        let mut statement = self
            .0
            .prepare_cached("UPDATE orders SET body = ?2 WHERE id = ?1")?;
        statement
            .execute(params![order.id, Self::json(order)])
            .map(drop)
    }

    /// Keeps the row without its order, so the id stays known as deleted.
    pub fn delete(&self, id: &str) -> rusqlite::Result<()> {
        let mut statement = self
            .0
            .prepare_cached("UPDATE orders SET body = NULL WHERE id = ?1")?;
        statement.execute(params![id]).map(drop)
    }

    pub fn check(&self) -> rusqlite::Result<()> {
        self.0.query_row("SELECT 1", [], |_| Ok(()))
    }
}
