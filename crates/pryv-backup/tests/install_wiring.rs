//! The engines an install's configuration asks for are the ones pryv-backup opens.

use pryv_backup::install::{Install, InstallSources};

/// The test database's connection settings as `--storages:engines:postgresql:*` overrides.
fn pg_overrides(db: &testbed::TestDb) -> Vec<(String, String)> {
    let config: postgres::Config = db.conn_str().parse().expect("testbed gives a valid URL");
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    [
        ("host", host),
        (
            "port",
            config
                .get_ports()
                .first()
                .copied()
                .unwrap_or(5432)
                .to_string(),
        ),
        (
            "database",
            config.get_dbname().unwrap_or_default().to_string(),
        ),
        ("user", config.get_user().unwrap_or_default().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("storages:engines:postgresql:{k}"), v))
    .collect()
}

#[test]
fn install_default_engines_are_composed_as_the_core_configures_them() {
    let db = testbed::pg_database();
    let core = testbed::core_dir();
    let users = core.path().join("var-pryv/users");
    std::fs::create_dir_all(&users).expect("user root");
    let mut overrides = pg_overrides(&db);
    overrides.push((
        "storages:engines:sqlite:path".into(),
        users.display().to_string(),
    ));
    let install = Install::load(&InstallSources {
        core_dir: core.path().to_path_buf(),
        overrides,
        ..Default::default()
    })
    .expect("the built-in defaults resolve");
    let described = install
        .engine()
        .expect("the default engines open")
        .describe();
    // Core defaults: PostgreSQL base, audit in per-user SQLite files, platform on rqlite.
    assert!(described.starts_with("PostgreSQL"), "{described}");
    assert!(described.contains("audit: "), "{described}");
    assert!(described.contains("platform: "), "{described}");
}

#[test]
fn install_s3_file_engine_is_wired_under_the_base_engine() {
    let db = testbed::pg_database();
    let core = testbed::core_dir();
    let mut overrides = pg_overrides(&db);
    for (key, value) in [
        ("storages:file:engine", "s3"),
        ("storages:engines:s3:bucket", "attachments"),
        ("storages:engines:s3:endpoint", "http://127.0.0.1:9"),
        ("storages:engines:s3:keyPrefix", "pryv/"),
        ("storages:engines:s3:accessKeyId", "id"),
        ("storages:engines:s3:secretAccessKey", "never-shown"),
    ] {
        overrides.push((key.into(), value.into()));
    }
    let install = Install::load(&InstallSources {
        core_dir: core.path().to_path_buf(),
        overrides,
        ..Default::default()
    })
    .expect("the configuration resolves");
    let described = install.engine().expect("the engines open").describe();
    assert!(
        described.contains("S3 attachments in s3://attachments/pryv/"),
        "{described}"
    );
    assert!(!described.contains("never-shown"), "{described}");
}

#[test]
fn install_unsupported_engine_is_refused_naming_its_key() {
    let db = testbed::pg_database();
    let core = testbed::core_dir();
    let mut overrides = pg_overrides(&db);
    // PostgreSQL attachments beside a SQLite base are not read by pryv-backup.
    overrides.push(("storages:base:engine".into(), "sqlite".into()));
    overrides.push(("storages:file:engine".into(), "postgresql".into()));
    overrides.push((
        "storages:engines:sqlite:path".into(),
        core.path().display().to_string(),
    ));
    let install = Install::load(&InstallSources {
        core_dir: core.path().to_path_buf(),
        overrides,
        ..Default::default()
    });
    let message = match install.and_then(|i| i.engine()) {
        Ok(_) => panic!("postgresql attachments beside a sqlite base are not supported"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("storages:file:engine"), "{message}");
}
