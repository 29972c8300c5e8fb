//! Typed access to a parsed Compose file, with the path of every value, so
//! that errors name the offending field (`services.web.ports[1]`).

use serde_yaml::Value;

use super::error::ComposeError;

/// A YAML value and its path in the file.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    /// The whole file.
    pub(crate) fn root(value: &'a Value) -> Node<'a> {
        Node {
            value,
            path: String::new(),
        }
    }

    /// The path of this node (empty for the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The path of member `key` of this node.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about this value.
    pub(crate) fn error(&self, message: impl Into<String>) -> ComposeError {
        error_at(&self.path, message)
    }

    fn type_error(&self, expected: &str) -> ComposeError {
        self.error(format!("must be {expected}, not {}", describe(self.value)))
    }

    /// Member `key` of a mapping; `None` when absent or null.
    pub(crate) fn member(&self, key: &str) -> Result<Option<Node<'a>>, ComposeError> {
        let map = self
            .value
            .as_mapping()
            .ok_or_else(|| self.type_error("a mapping"))?;
        Ok(map.get(key).filter(|v| !v.is_null()).map(|value| Node {
            value,
            path: self.key_path(key),
        }))
    }

    /// The entries of a mapping, in file order; keys must be strings.
    pub(crate) fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>, ComposeError> {
        let map = self
            .value
            .as_mapping()
            .ok_or_else(|| self.type_error("a mapping"))?;
        map.iter()
            .map(|(key, value)| match key {
                Value::String(key) => Ok((
                    key.as_str(),
                    Node {
                        value,
                        path: self.key_path(key),
                    },
                )),
                other => Err(self.error(format!("keys must be strings, not {}", describe(other)))),
            })
            .collect()
    }

    /// The items of a sequence.
    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, ComposeError> {
        let seq = self
            .value
            .as_sequence()
            .ok_or_else(|| self.type_error("a list"))?;
        Ok(seq
            .iter()
            .enumerate()
            .map(|(index, value)| Node {
                value,
                path: format!("{}[{index}]", self.path),
            })
            .collect())
    }

    /// Whether the value is a sequence.
    pub(crate) fn is_sequence(&self) -> bool {
        self.value.is_sequence()
    }

    /// Whether the value is a mapping.
    pub(crate) fn is_mapping(&self) -> bool {
        self.value.is_mapping()
    }

    /// Whether the value is null.
    pub(crate) fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// Whether the value is an integer.
    pub(crate) fn is_integer(&self) -> bool {
        self.value.as_i64().is_some() || self.value.as_u64().is_some()
    }

    /// The value as a string.
    pub(crate) fn string(&self) -> Result<&'a str, ComposeError> {
        self.value
            .as_str()
            .ok_or_else(|| self.type_error("a string"))
    }

    /// A string, number or boolean, rendered as a string (what Compose
    /// accepts for driver options and published ports).
    pub(crate) fn scalar(&self) -> Result<String, ComposeError> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.type_error("a string or a number")),
        }
    }

    /// The value as a boolean. As Compose casts them, the strings
    /// `true`/`false`, `yes`/`no`, `on`/`off` and `y`/`n` (any case) count.
    pub(crate) fn boolean(&self) -> Result<bool, ComposeError> {
        let parsed = match self.value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" => Some(true),
                "false" | "no" | "off" | "n" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.ok_or_else(|| self.type_error("a boolean"))
    }

    /// The value as an integer (a number, or a string holding one).
    pub(crate) fn integer(&self) -> Result<i64, ComposeError> {
        let parsed = match self.value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.type_error("an integer"))
    }
}

/// An error about the value at `path`.
pub(crate) fn error_at(path: &str, message: impl Into<String>) -> ComposeError {
    ComposeError::Invalid {
        path: if path.is_empty() {
            "(root)".to_string()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

/// A short description of a value, for type errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".to_string(),
        Value::Mapping(_) => "a mapping".to_string(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}
