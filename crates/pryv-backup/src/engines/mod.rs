//! Storage engines: one folder per engine, each implementing [`crate::engine::Engine`].

pub mod filesystem;
pub mod postgres;
pub mod sqlite;
