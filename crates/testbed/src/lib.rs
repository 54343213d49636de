//! Test support for pryv-backup: real, throwaway PostgreSQL databases and data directories.
pub mod influx;
