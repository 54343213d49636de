//! YAML configuration files as JSON values (the core reads them with js-yaml).

use std::path::Path;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::ConfigError;
use crate::json::number_from_f64;

/// Parses one configuration file's text. An empty file is an empty mapping; anything but a
/// single mapping document is an error naming the file.
pub(crate) fn parse_config_text(path: &Path, text: &str) -> Result<Value, ConfigError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| ConfigError::Yaml {
        path: path.to_path_buf(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    let doc = match docs.as_slice() {
        [] => return Ok(Value::Object(Map::new())),
        [doc] => doc,
        _ => {
            return Err(ConfigError::NotAMapping {
                path: path.to_path_buf(),
                found: format!("{} YAML documents", docs.len()),
            })
        }
    };
    match to_json(doc, path)? {
        Value::Null => Ok(Value::Object(Map::new())),
        value @ Value::Object(_) => Ok(value),
        other => Err(ConfigError::NotAMapping {
            path: path.to_path_buf(),
            found: kind_of(&other).to_string(),
        }),
    }
}

fn to_json(node: &Yaml, path: &Path) -> Result<Value, ConfigError> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        // js-yaml gives JavaScript numbers; .inf and .nan have no JSON form and become null.
        Yaml::Real(text) => number_from_f64(
            node.as_f64()
                .unwrap_or_else(|| text.parse::<f64>().unwrap_or(f64::NAN)),
        ),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| to_json(item, path))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.insert(key_text(key, path)?, to_json(value, path)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(ConfigError::Yaml {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                message: "unsupported YAML construct (unresolved alias)".to_string(),
            })
        }
    })
}

/// Mapping keys become property names, as JavaScript turns them into strings.
fn key_text(key: &Yaml, path: &Path) -> Result<String, ConfigError> {
    Ok(match key {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Real(text) => text.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".to_string(),
        _ => {
            return Err(ConfigError::Yaml {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                message: "mapping keys must be scalars".to_string(),
            })
        }
    })
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
