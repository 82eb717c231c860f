//! The integration tests: one binary (one link, one process), a module per area. They start
//! real things: the built-in broker on a free port, or the Kafka named by `KAFKA_BROKERS`;
//! the services in this process ([`common::TestApp`]) or as the real binary
//! ([`common::process`]).

mod common;

mod auth;
mod broker_admin;
mod broker_bad_input;
mod broker_durability;
mod broker_hostile;
mod broker_hostile_produce;
mod broker_hostile_txn;
mod broker_memory;
mod broker_rdkafka;
mod broker_restart;
mod broker_retention;
mod broker_storage;
mod broker_transactions;
mod cli;
mod cluster;
mod consumer_dead_letters;
mod consumer_faults;
mod consumer_reliability;
mod crash_recovery;
mod cross_site;
mod limits;
mod operations;
mod orders_flow;
mod orders_pages;
mod orders_postgres;
mod topics;
