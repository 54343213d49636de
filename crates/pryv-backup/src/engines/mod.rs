//! Storage engines: one folder per engine, each implementing [`crate::engine::Engine`].

pub mod postgres;
pub mod sqlite;
