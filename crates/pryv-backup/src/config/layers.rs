//! Layered configuration, as `@pryv/boiler` (nconf) builds it for the core.
//!
//! Layers, lowest priority first:
//! 1. pryv-backup's built-in defaults (the subset of the core's defaults we rely on);
//! 2. `<base>/config/default-config.yml`;
//! 3. the install paths the core derives from its location (`<base>/var-pryv/...`);
//! 4. the `--config` files if any were given, otherwise `<base>/config/<NODE_ENV>-config.yml`
//!    (no file at all when `NODE_ENV` is unset: the core has no default either);
//! 5. environment variables naming a path with `__` (`storages__base__engine=sqlite`);
//! 6. `<base>/config/override-config.yml` (not read under `NODE_ENV=test`, as in the core);
//! 7. `key:path=value` overrides given to pryv-backup.
//!
//! Mappings merge key by key across layers; any other value (including lists and `null`)
//! replaces what lower layers hold.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::defaults;
use super::yaml::parse_config_text;
use super::ConfigError;

/// Where to find an install's configuration.
#[derive(Clone, Default)]
pub struct ConfigSources {
    /// The core's install directory (the one holding `config/`).
    pub base_dir: Option<PathBuf>,
    /// The core's `NODE_ENV`, selecting `config/<NODE_ENV>-config.yml`.
    pub node_env: Option<String>,
    /// The core's `--config` file(s). When present, the `NODE_ENV` file is not read (as in
    /// the core); several files are layered in order, the last winning.
    pub files: Vec<PathBuf>,
    /// Environment variables of the form `a__b__c=value`, read as the core reads its own
    /// environment (values parsed like overrides). Variables without `__` are ignored.
    pub env: Vec<(String, String)>,
    /// `("a:b:c", "value")` overrides, on top of everything. Values are read as JSON when
    /// they parse as JSON (`5432`, `true`, `null`, `["x"]`), as plain text otherwise.
    pub overrides: Vec<(String, String)>,
}

/// Override values may be secrets (a password): `Debug` shows their keys only.
impl fmt::Debug for ConfigSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let override_keys: Vec<&str> = self.overrides.iter().map(|(k, _)| k.as_str()).collect();
        let env_names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ConfigSources")
            .field("base_dir", &self.base_dir)
            .field("node_env", &self.node_env)
            .field("files", &self.files)
            .field("env_names", &env_names)
            .field("override_keys", &override_keys)
            .finish()
    }
}

/// What one layer came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerSource {
    BuiltIn,
    InstallPaths(PathBuf),
    File(PathBuf),
    /// The variable's name only: its value may be a secret.
    Environment(String),
    /// The override's key only: its value may be a secret.
    Override(String),
}

impl fmt::Display for LayerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSource::BuiltIn => write!(f, "pryv-backup's built-in defaults"),
            LayerSource::InstallPaths(base) => {
                write!(f, "the default paths of the install at {}", base.display())
            }
            LayerSource::File(path) => write!(f, "{}", path.display()),
            LayerSource::Environment(name) => write!(f, "environment variable {name}"),
            LayerSource::Override(key) => write!(f, "override {key}"),
        }
    }
}

struct Layer {
    source: LayerSource,
    tree: Value,
}

/// The merged configuration, remembering which layer each value came from.
pub struct LayeredConfig {
    base_dir: Option<PathBuf>,
    /// Lowest priority first.
    layers: Vec<Layer>,
    merged: Value,
}

impl LayeredConfig {
    pub fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let mut layers = vec![Layer {
            source: LayerSource::BuiltIn,
            tree: defaults::built_in(),
        }];
        let config_dir = sources.base_dir.as_ref().map(|base| base.join("config"));

        if let Some(dir) = &config_dir {
            push_file_if_present(&mut layers, &dir.join("default-config.yml"))?;
        }
        if let Some(base) = &sources.base_dir {
            layers.push(Layer {
                source: LayerSource::InstallPaths(base.clone()),
                tree: defaults::install_paths(base),
            });
        }
        if !sources.files.is_empty() {
            for file in &sources.files {
                layers.push(read_layer(file)?);
            }
        } else if let (Some(dir), Some(env)) = (&config_dir, &sources.node_env) {
            // As in the core, a missing NODE_ENV file is not an error.
            push_file_if_present(&mut layers, &dir.join(format!("{env}-config.yml")))?;
        }
        for (name, value) in &sources.env {
            if let Some(layer) = env_layer(name, value) {
                layers.push(layer);
            }
        }
        // The core leaves a developer's override file out of its tests.
        if let (Some(dir), false) = (&config_dir, sources.node_env.as_deref() == Some("test")) {
            push_file_if_present(&mut layers, &dir.join("override-config.yml"))?;
        }
        for (key, value) in &sources.overrides {
            layers.push(override_layer(key, value)?);
        }

        let mut merged = Value::Object(Map::new());
        for layer in &layers {
            merge_into(&mut merged, &layer.tree);
        }
        Ok(LayeredConfig {
            base_dir: sources.base_dir.clone(),
            layers,
            merged,
        })
    }

    /// The value at a colon-separated path (`storages:engines:postgresql:host`).
    pub fn get(&self, colon_path: &str) -> Option<&Value> {
        lookup(&self.merged, colon_path)
    }

    /// Which layer the value at `colon_path` comes from (the highest holding it).
    pub fn source_of(&self, colon_path: &str) -> Option<&LayerSource> {
        self.layers
            .iter()
            .rev()
            .find(|layer| lookup(&layer.tree, colon_path).is_some())
            .map(|layer| &layer.source)
    }

    /// The whole merged tree.
    pub fn as_value(&self) -> &Value {
        &self.merged
    }

    pub fn base_dir(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }
}

fn lookup<'a>(tree: &'a Value, colon_path: &str) -> Option<&'a Value> {
    colon_path
        .split(':')
        .try_fold(tree, |node, segment| node.as_object()?.get(segment))
}

fn push_file_if_present(layers: &mut Vec<Layer>, path: &Path) -> Result<(), ConfigError> {
    if path.is_file() {
        layers.push(read_layer(path)?);
    } else {
        tracing::debug!("no configuration file at {}", path.display());
    }
    Ok(())
}

fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Layer {
        source: LayerSource::File(path.to_path_buf()),
        tree: parse_config_text(path, &text)?,
    })
}

fn override_layer(key: &str, raw: &str) -> Result<Layer, ConfigError> {
    if key.is_empty() || key.split(':').any(str::is_empty) {
        return Err(ConfigError::BadOverride {
            key: key.to_string(),
            reason: "the key must be a colon-separated path such as storages:base:engine"
                .to_string(),
        });
    }
    Ok(Layer {
        source: LayerSource::Override(key.to_string()),
        tree: nested(&key.split(':').collect::<Vec<_>>(), raw),
    })
}

/// `storages__base__engine=sqlite` as the core's environment layer reads it; `None` for a
/// variable that names no path (`PATH`, `HOME`, or one with an empty segment).
fn env_layer(name: &str, raw: &str) -> Option<Layer> {
    if !name.contains("__") || name.split("__").any(str::is_empty) {
        return None;
    }
    Some(Layer {
        source: LayerSource::Environment(name.to_string()),
        tree: nested(&name.split("__").collect::<Vec<_>>(), raw),
    })
}

/// `{a: {b: value}}` for the path `a, b`. The core parses command-line and environment values
/// as JSON when it can, as text otherwise.
fn nested(path: &[&str], raw: &str) -> Value {
    let value = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.into()));
    path.iter().rev().fold(value, |inner, segment| {
        let mut map = Map::new();
        map.insert(segment.to_string(), inner);
        Value::Object(map)
    })
}

/// Merges `higher` over `lower`: mappings key by key, anything else replaces.
fn merge_into(lower: &mut Value, higher: &Value) {
    match (lower, higher) {
        (Value::Object(low), Value::Object(high)) => {
            for (key, high_value) in high {
                match low.get_mut(key) {
                    Some(low_value) => merge_into(low_value, high_value),
                    None => {
                        low.insert(key.clone(), high_value.clone());
                    }
                }
            }
        }
        (low, high) => *low = high.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mappings_merge_and_other_values_replace() {
        let mut low = json!({"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 1});
        merge_into(
            &mut low,
            &json!({"a": {"c": [3], "d": null, "g": true}, "f": {"h": 2}}),
        );
        assert_eq!(
            low,
            json!({"a": {"b": 1, "c": [3], "d": null, "g": true}, "f": {"h": 2}})
        );
    }

    #[test]
    fn override_values_are_json_or_text() {
        let layer = override_layer("a:b", "5433").unwrap();
        assert_eq!(layer.tree, json!({"a": {"b": 5433}}));
        let layer = override_layer("a", "sqlite").unwrap();
        assert_eq!(layer.tree, json!({"a": "sqlite"}));
        assert!(override_layer("a::b", "1").is_err());
    }

    #[test]
    fn environment_variables_name_paths_with_double_underscores() {
        let layer = env_layer("storages__base__engine", "sqlite").unwrap();
        assert_eq!(
            layer.tree,
            json!({"storages": {"base": {"engine": "sqlite"}}})
        );
        let layer = env_layer("http__port", "3000").unwrap();
        assert_eq!(layer.tree, json!({"http": {"port": 3000}}));
        assert!(env_layer("PATH", "/bin").is_none());
        assert!(env_layer("a____b", "1").is_none());
        assert!(env_layer("__a", "1").is_none());
    }
}
