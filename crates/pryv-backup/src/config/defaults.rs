//! The lowest configuration layers: what the core assumes when its YAML says nothing.

use std::path::Path;

use serde_json::{json, Value};

/// The defaults pryv-backup relies on, matching the core's shipped defaults (only the keys
/// that locate data). Used alone when no install directory is given.
pub(crate) fn built_in() -> Value {
    json!({
        "dnsLess": { "isActive": true },
        "storages": {
            "base": { "engine": "postgresql" },
            "platform": { "engine": "rqlite" },
            "series": { "engine": "postgresql" },
            "file": { "engine": "filesystem" },
            "audit": { "engine": "sqlite" },
            "engines": {
                "postgresql": {
                    "host": "127.0.0.1",
                    "port": 5432,
                    "database": "pryv-node",
                    "user": "pryv",
                    "password": ""
                },
                "influxdb": { "host": "127.0.0.1", "port": 8086 },
                "rqlite": { "url": "http://localhost:4001", "dataDir": "var-pryv/rqlite-data" },
                "s3": { "region": "us-east-1", "forcePathStyle": false, "keyPrefix": "" }
            }
        }
    })
}

/// The data directories the core derives from its own location (its paths plugin), which
/// take precedence over `default-config.yml`'s placeholders.
pub(crate) fn install_paths(base_dir: &Path) -> Value {
    let var_pryv = base_dir.join("var-pryv");
    json!({
        "storages": {
            "engines": {
                "sqlite": { "path": var_pryv.join("users").to_string_lossy() },
                "filesystem": { "previewsDirPath": var_pryv.join("previews").to_string_lossy() }
            }
        }
    })
}
