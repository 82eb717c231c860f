//! kafka-orders: an event-driven orders system on Kafka (producer, consumer, Orders API),
//! runnable on a real Kafka cluster or on the built-in broker of the `broker` crate.

pub mod app;
pub mod auth;
pub mod config;
pub mod console;
pub mod consumer;
pub mod database;
pub mod hosts;
pub mod http;
pub mod http_server;
pub mod kafka;
pub mod metrics;
pub mod money;
pub mod order;
pub mod orders_api;
pub mod producer;
pub mod shutdown;
