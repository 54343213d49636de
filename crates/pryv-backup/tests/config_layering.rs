//! Layered configuration and install resolution, on real YAML files in a temporary install.

use std::fs;
use std::path::{Path, PathBuf};

use pryv_backup::config::{
    self, AuditEngine, BaseEngine, ConfigError, ConfigSources, FileEngine, LayerSource,
    LayeredConfig, PlatformEngine, SeriesEngine, ServiceUrl,
};
use serde_json::json;

/// A temporary core install: `<dir>/config/*.yml`.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("config")).expect("config dir");
        Install { dir }
    }

    fn base(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join("config").join(name);
        fs::write(&path, text).expect("write config");
        path
    }

    fn sources(&self) -> ConfigSources {
        ConfigSources {
            base_dir: Some(self.base()),
            ..ConfigSources::default()
        }
    }
}

fn load(sources: &ConfigSources) -> LayeredConfig {
    LayeredConfig::load(sources).expect("configuration loads")
}

#[test]
fn config_layers_apply_in_the_core_order() {
    let install = Install::new();
    install.write_config(
        "default-config.yml",
        "storages:\n  engines:\n    postgresql:\n      host: default-host\n      port: 5432\n      database: from-default\n",
    );
    install.write_config(
        "production-config.yml",
        "storages:\n  engines:\n    postgresql:\n      host: env-host\n      user: env-user\n",
    );
    let override_file = install.write_config(
        "override-config.yml",
        "storages:\n  engines:\n    postgresql:\n      port: 6543\n",
    );
    let mut sources = install.sources();
    sources.node_env = Some("production".into());
    sources.overrides = vec![("storages:engines:postgresql:user".into(), "cli-user".into())];
    let cfg = load(&sources);

    let pg = |field: &str| {
        cfg.get(&format!("storages:engines:postgresql:{field}"))
            .cloned()
    };
    assert_eq!(pg("database"), Some(json!("from-default")));
    assert_eq!(pg("host"), Some(json!("env-host")));
    assert_eq!(pg("port"), Some(json!(6543)));
    assert_eq!(pg("user"), Some(json!("cli-user")));
    // Untouched built-in default survives the merge of sibling keys.
    assert_eq!(pg("password"), Some(json!("")));
    assert_eq!(
        cfg.source_of("storages:engines:postgresql:port"),
        Some(&LayerSource::File(override_file))
    );
    // The install's own paths replace default-config.yml placeholders.
    let users = install.base().join("var-pryv").join("users");
    assert_eq!(
        cfg.get("storages:engines:sqlite:path"),
        Some(&json!(users.to_string_lossy()))
    );
}

/// The core's order (`@pryv/boiler`): the NODE_ENV file, then environment variables
/// (`a__b__c`), then `override-config.yml`; under `NODE_ENV=test` the override file is
/// left out, and without NODE_ENV no environment file is read.
#[test]
fn config_environment_variables_sit_between_the_node_env_and_override_files() {
    let install = Install::new();
    install.write_config(
        "production-config.yml",
        "storages:\n  engines:\n    postgresql:\n      host: env-file-host\n      port: 1111\n      user: env-file-user\n",
    );
    install.write_config(
        "override-config.yml",
        "storages:\n  engines:\n    postgresql:\n      port: 3333\n",
    );
    let mut sources = install.sources();
    sources.node_env = Some("production".into());
    sources.env = vec![
        (
            "storages__engines__postgresql__host".into(),
            "variable-host".into(),
        ),
        ("storages__engines__postgresql__port".into(), "2222".into()),
        ("PATH".into(), "/usr/bin".into()),
    ];
    let cfg = load(&sources);
    let pg = |field: &str| {
        cfg.get(&format!("storages:engines:postgresql:{field}"))
            .cloned()
    };
    assert_eq!(pg("host"), Some(json!("variable-host")));
    assert_eq!(pg("port"), Some(json!(3333)));
    assert_eq!(pg("user"), Some(json!("env-file-user")));
    assert_eq!(cfg.get("PATH"), None);
    assert_eq!(
        cfg.source_of("storages:engines:postgresql:host"),
        Some(&LayerSource::Environment(
            "storages__engines__postgresql__host".into()
        ))
    );

    sources.node_env = Some("test".into());
    let cfg = load(&sources);
    assert_eq!(
        cfg.get("storages:engines:postgresql:port"),
        Some(&json!(2222)),
        "override-config.yml is read under NODE_ENV=test"
    );

    sources.node_env = None;
    sources.env.clear();
    let cfg = load(&sources);
    assert_eq!(
        cfg.get("storages:engines:postgresql:user"),
        Some(&json!("pryv")),
        "an environment file was read without NODE_ENV"
    );
}

#[test]
fn config_explicit_files_replace_the_node_env_file() {
    let install = Install::new();
    install.write_config(
        "production-config.yml",
        "dnsLess:\n  publicUrl: https://env.example\n",
    );
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let first = elsewhere.path().join("first.yml");
    let second = elsewhere.path().join("second.yml");
    fs::write(
        &first,
        "dnsLess:\n  publicUrl: https://first.example\nservice:\n  domain: first.example\n",
    )
    .unwrap();
    fs::write(&second, "dnsLess:\n  publicUrl: https://second.example\n").unwrap();

    let mut sources = install.sources();
    sources.node_env = Some("production".into());
    sources.files = vec![first, second];
    let cfg = load(&sources);
    assert_eq!(
        cfg.get("dnsLess:publicUrl"),
        Some(&json!("https://second.example"))
    );
    assert_eq!(cfg.get("service:domain"), Some(&json!("first.example")));

    sources.files.clear();
    let cfg = load(&sources);
    assert_eq!(
        cfg.get("dnsLess:publicUrl"),
        Some(&json!("https://env.example"))
    );
}

#[test]
fn config_override_values_are_parsed_like_the_core() {
    let install = Install::new();
    let mut sources = install.sources();
    sources.overrides = vec![
        ("a:number".into(), "5433".into()),
        ("a:flag".into(), "true".into()),
        ("a:text".into(), "sqlite".into()),
        ("a:nothing".into(), "null".into()),
        ("a:list".into(), r#"["x", 2]"#.into()),
        ("a:quoted".into(), r#""5433""#.into()),
    ];
    let cfg = load(&sources);
    assert_eq!(
        cfg.get("a"),
        Some(
            &json!({"number": 5433, "flag": true, "text": "sqlite", "nothing": null, "list": ["x", 2], "quoted": "5433"})
        )
    );

    sources.overrides = vec![("storages::engine".into(), "x".into())];
    let err = LayeredConfig::load(&sources)
        .err()
        .expect("bad key refused");
    assert!(matches!(err, ConfigError::BadOverride { .. }), "{err}");
}

#[test]
fn config_resolves_a_default_install() {
    let install = Install::new();
    let version_dir = install.base().join("components/storage");
    fs::create_dir_all(&version_dir).unwrap();
    fs::write(
        version_dir.join("package.json"),
        r#"{"name":"storage","version":"1.9.3"}"#,
    )
    .unwrap();
    install.write_config(
        "override-config.yml",
        "dnsLess:\n  publicUrl: https://pryv.example/\nstorages:\n  engines:\n    postgresql:\n      password: s3cret-pw\n",
    );
    let resolved = config::resolve(&load(&install.sources())).expect("resolves");

    let users = install.base().join("var-pryv/users");
    assert_eq!(resolved.base_engine, BaseEngine::Postgresql);
    assert_eq!(resolved.user_root_dir, users);
    assert_eq!(resolved.attachments, FileEngine::Filesystem { root: users });
    assert_eq!(resolved.series, SeriesEngine::Postgresql);
    assert_eq!(resolved.audit, AuditEngine::Sqlite);
    match &resolved.platform {
        PlatformEngine::Rqlite(rqlite) => {
            assert_eq!(rqlite.url.with_credentials(), "http://localhost:4001");
            assert_eq!(rqlite.data_dir, install.base().join("var-pryv/rqlite-data"));
        }
        other => panic!("expected rqlite, got {other:?}"),
    }
    let pg = resolved.postgres.as_ref().expect("postgres settings");
    assert_eq!((pg.host.as_str(), pg.port), ("127.0.0.1", 5432));
    assert_eq!(
        (pg.database.as_str(), pg.user.as_str()),
        ("pryv-node", "pryv")
    );
    assert_eq!(
        pg.password.as_deref().map(String::as_str),
        Some("s3cret-pw")
    );
    assert_eq!(
        pg.connection_string().as_str(),
        "host='127.0.0.1' port=5432 dbname='pryv-node' user='pryv' password='s3cret-pw'"
    );
    assert_eq!(resolved.domain, "https://pryv.example/");
    assert_eq!(resolved.core_version.as_deref(), Some("1.9.3"));
}

#[test]
fn config_resolves_alternative_engines() {
    let install = Install::new();
    install.write_config(
        "override-config.yml",
        r#"
storages:
  base: { engine: sqlite }
  series: { engine: influxdb }
  audit: { engine: sqlite }
  platform: { engine: rqlite }
  file: { engine: s3 }
  engines:
    sqlite: { path: data/users }
    influxdb: { host: influx.local, port: "8087" }
    s3:
      bucket: pryv-attachments
      endpoint: https://minio.local
      accessKeyId: AKIA
      secretAccessKey: very-secret
      forcePathStyle: true
      keyPrefix: attachments/
service:
  domain: pryv.example
"#,
    );
    let resolved = config::resolve(&load(&install.sources())).expect("resolves");
    assert_eq!(resolved.base_engine, BaseEngine::Sqlite);
    assert_eq!(resolved.postgres, None, "no storage uses PostgreSQL");
    assert_eq!(resolved.user_root_dir, install.base().join("data/users"));
    match &resolved.series {
        SeriesEngine::Influxdb(influx) => {
            assert_eq!((influx.host.as_str(), influx.port), ("influx.local", 8087));
        }
        other => panic!("expected influxdb, got {other:?}"),
    }
    let FileEngine::S3(s3) = &resolved.attachments else {
        panic!("expected s3, got {:?}", resolved.attachments);
    };
    assert_eq!(s3.bucket, "pryv-attachments");
    assert_eq!(s3.region, "us-east-1");
    assert_eq!(
        s3.endpoint.as_ref().map(ServiceUrl::with_credentials),
        Some("https://minio.local")
    );
    assert!(s3.force_path_style);
    assert_eq!(s3.key_prefix, "attachments/");
    assert_eq!(s3.access_key_id.as_deref(), Some("AKIA"));
    assert_eq!(resolved.domain, "pryv.example");
    assert_eq!(resolved.core_version, None);
    let debug = format!("{resolved:?}");
    assert!(!debug.contains("very-secret"), "secret in {debug}");
}

#[test]
fn config_unknown_engine_error_names_key_and_file() {
    let install = Install::new();
    let file = install.write_config(
        "override-config.yml",
        "storages:\n  base:\n    engine: mongodb\n",
    );
    let err = config::resolve(&load(&install.sources())).expect_err("mongodb is not supported");
    let text = err.to_string();
    assert!(matches!(err, ConfigError::UnknownEngine { .. }), "{text}");
    assert!(text.contains("storages:base:engine"), "{text}");
    assert!(text.contains("mongodb"), "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("postgresql, sqlite"), "{text}");
}

#[test]
fn config_bad_yaml_error_names_file_and_line() {
    let install = Install::new();
    let file = install.write_config(
        "override-config.yml",
        "storages:\n  base:\n    engine: [sqlite\n",
    );
    let err = LayeredConfig::load(&install.sources())
        .err()
        .expect("bad YAML refused");
    let text = err.to_string();
    let ConfigError::Yaml { path, line, .. } = &err else {
        panic!("expected a YAML error, got {text}");
    };
    assert_eq!(path, &file);
    assert!(*line >= 3, "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");
}

#[test]
fn config_missing_values_and_wrong_types_are_named() {
    // Without an install directory, nothing says where user data lives.
    let err = config::resolve(&load(&ConfigSources::default())).expect_err("no user root");
    assert!(
        err.to_string().contains("storages:engines:sqlite:path"),
        "{err}"
    );

    let install = Install::new();
    install.write_config(
        "override-config.yml",
        "storages:\n  file:\n    engine: s3\n",
    );
    let err = config::resolve(&load(&install.sources())).expect_err("no bucket");
    assert!(
        err.to_string().contains("storages:engines:s3:bucket"),
        "{err}"
    );

    let mut sources = install.sources();
    sources.overrides = vec![
        ("storages:file:engine".into(), "filesystem".into()),
        ("storages:engines:postgresql:port".into(), "[1]".into()),
    ];
    let err = config::resolve(&load(&sources)).expect_err("bad port");
    let text = err.to_string();
    assert!(matches!(err, ConfigError::WrongType { .. }), "{text}");
    assert!(text.contains("storages:engines:postgresql:port"), "{text}");
    assert!(
        text.contains("set in override storages:engines:postgresql:port"),
        "{text}"
    );
}

#[test]
fn config_missing_explicit_file_is_an_error() {
    let sources = ConfigSources {
        files: vec![Path::new("/nonexistent/pryv.yml").to_path_buf()],
        ..ConfigSources::default()
    };
    let err = LayeredConfig::load(&sources)
        .err()
        .expect("missing file refused");
    assert!(err.to_string().contains("/nonexistent/pryv.yml"), "{err}");
}

#[test]
fn config_password_is_not_in_debug_output() {
    let install = Install::new();
    let mut sources = install.sources();
    sources.overrides = vec![(
        "storages:engines:postgresql:password".into(),
        "pa'ss\\word-xyz".into(),
    )];
    let resolved = config::resolve(&load(&sources)).expect("resolves");
    let pg = resolved.postgres.as_ref().expect("postgres");
    for debug in [
        format!("{pg:?}"),
        format!("{resolved:?}"),
        format!("{resolved:#?}"),
    ] {
        assert!(!debug.contains("word-xyz"), "password leaked: {debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
    // Neither the sources nor errors about the key repeat the value.
    assert!(!format!("{sources:?}").contains("word-xyz"));
    sources.overrides.push((
        "storages:engines:postgresql:password".into(),
        "[\"word-xyz\"]".into(),
    ));
    let err = config::resolve(&load(&sources)).expect_err("a list is not a password");
    assert!(!err.to_string().contains("word-xyz"), "{err}");
    assert!(
        err.to_string()
            .contains("storages:engines:postgresql:password"),
        "{err}"
    );

    // The connection string quotes what libpq would otherwise split.
    assert!(pg
        .connection_string()
        .ends_with(r"password='pa\'ss\\word-xyz'"));
    let parsed: Result<postgres::Config, _> = pg.connection_string().parse();
    assert!(parsed.is_ok());
}
