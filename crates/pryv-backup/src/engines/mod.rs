//! Storage engines: one folder per engine, each implementing [`crate::engine::Engine`].

pub mod audit_shape;
pub mod filesystem;
mod http;
pub mod influxdb;
pub mod postgres;
pub mod rqlite;
pub mod s3;
pub mod sqlite;
