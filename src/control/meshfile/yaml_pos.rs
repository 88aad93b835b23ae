//! Positions in YAML text, found by replaying serde_yaml's own parser: where a node sits, and
//! the first duplicated mapping key.
//!
//! serde_yaml stamps an error raised while it hands a node to a visitor with that node's
//! position. Both functions here walk the document with visitors that raise an error exactly at
//! the node they look for, and read the position back from the error: the same parser that read
//! the file finds the place, so flow style (`{ port: 1 }`), quoting, comments and anchors need
//! no second parser.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The value under a mapping key.
    Key(String),
    /// The n-th element of a sequence (from 0).
    Index(usize),
}

/// A path into a YAML document, shown the way serde_yaml shows paths: `services.web.upstreams[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YamlPath(pub Vec<Step>);

/// What [`locate`] points at when the path ends in a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The key itself (`web` in `web: {…}`): for errors about a name.
    Key,
    /// The value under the key: for errors about the value.
    Value,
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Walks to one node and fails there, so serde_yaml records the node's position.
struct Probe<'a> {
    path: &'a [Step],
    target: Target,
}

/// Reads one mapping key; fails on it when it is the one looked for and `fail` is set.
struct KeyProbe<'a> {
    want: &'a str,
    fail: bool,
}

/// Walks a whole document and fails on the first key repeated within one mapping.
struct DuplicateKeys;

/// Reads one mapping key and fails on it when `seen` already holds it.
struct UniqueKey<'a> {
    seen: &'a mut HashSet<String>,
}

/// The message of the error [`Probe`] raises; never shown to users.
const PROBE_HIT: &str = "located";

impl YamlPath {
    /// The path one step further down.
    pub fn child(&self, step: Step) -> YamlPath {
        let mut steps = self.0.clone();
        steps.push(step);
        YamlPath(steps)
    }

    /// The path to the value under `key`.
    pub fn key(&self, key: &str) -> YamlPath {
        self.child(Step::Key(key.to_string()))
    }

    /// The path to the `index`-th element.
    pub fn index(&self, index: usize) -> YamlPath {
        self.child(Step::Index(index))
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Where the node at `path` (or, with [`Target::Key`], its key) starts in `text`; `None` when
/// the document has no such node or does not parse.
pub fn locate(text: &str, path: &YamlPath, target: Target) -> Option<Position> {
    let probe = Probe {
        path: &path.0,
        target,
    };
    match probe.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        }),
    }
}

/// The deepest nesting a mesh file may use: block indentation in columns, and flow
/// collections (`[`/`{`) inside each other. Real files stay below a tenth of either; a file
/// past them is refused before the YAML parser sees it, which otherwise spends time
/// quadratic in the depth before its own recursion limit stops it.
pub const MAX_INDENT_COLUMNS: usize = 256;
pub const MAX_FLOW_DEPTH: usize = 32;

/// Refuses nesting beyond [`MAX_INDENT_COLUMNS`] / [`MAX_FLOW_DEPTH`]; the error names the line
/// and column where the limit is crossed. Quoted scalars and comments do not count.
pub fn check_nesting(text: &str) -> Result<(), (Position, String)> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let at = |column: usize| Position {
            line: n + 1,
            column: column + 1,
        };
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > MAX_INDENT_COLUMNS && !line.trim().is_empty() {
            return Err((
                at(indent),
                format!("nested deeper than {MAX_INDENT_COLUMNS} columns of indentation"),
            ));
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (column, c) in line.char_indices() {
            match (quote, c) {
                (Some('\''), '\'') | (Some('"'), '"') if previous != '\\' => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') if previous == ' ' || column == 0 => break,
                (None, '[' | '{') => {
                    flow += 1;
                    if flow > MAX_FLOW_DEPTH {
                        return Err((
                            at(column),
                            format!("more than {MAX_FLOW_DEPTH} nested [ ] / {{ }} collections"),
                        ));
                    }
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            previous = c;
        }
    }
    Ok(())
}

/// Checks that no mapping in `text` repeats a key; the error points at the repeated key and
/// reads `<mapping path>: duplicate key `<key>``. serde's derived structs catch repeated fields
/// too, but at the mapping's first key, and plain maps keep the last value silently.
pub fn check_duplicate_keys(text: &str) -> Result<(), serde_yaml::Error> {
    DuplicateKeys.deserialize(serde_yaml::Deserializer::from_str(text))
}

impl Probe<'_> {
    /// A scalar was reached: it is the node looked for when the path is used up.
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(PROBE_HIT))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Step::Key(want), rest)) = self.path.split_first() else {
            return if self.path.is_empty() {
                Err(de::Error::custom(PROBE_HIT))
            } else {
                drain_map(map)
            };
        };
        let fail_on_key = rest.is_empty() && self.target == Target::Key;
        while let Some(found) = map.next_key_seed(KeyProbe {
            want,
            fail: fail_on_key,
        })? {
            if found {
                map.next_value_seed(Probe {
                    path: rest,
                    target: self.target,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Step::Index(want), rest)) = self.path.split_first() else {
            return if self.path.is_empty() {
                Err(de::Error::custom(PROBE_HIT))
            } else {
                drain_seq(seq)
            };
        };
        let mut index = 0;
        loop {
            let more = if index == *want {
                seq.next_element_seed(Probe {
                    path: rest,
                    target: self.target,
                })?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match (key == self.want, self.fail) {
            (true, true) => Err(E::custom(PROBE_HIT)),
            (found, _) => Ok(found),
        }
    }

    fn visit_u64<E: de::Error>(self, key: u64) -> Result<bool, E> {
        self.visit_str(&key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<bool, E> {
        self.visit_str(&key.to_string())
    }

    fn visit_bool<E: de::Error>(self, key: bool) -> Result<bool, E> {
        self.visit_str(&key.to_string())
    }
}

impl<'de> DeserializeSeed<'de> for DuplicateKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while map.next_key_seed(UniqueKey { seen: &mut seen })?.is_some() {
            map.next_value_seed(DuplicateKeys)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(DuplicateKeys)?.is_some() {}
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKey<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        if self.seen.insert(key.to_string()) {
            Ok(())
        } else {
            Err(E::custom(format!("duplicate key `{key}`")))
        }
    }

    fn visit_u64<E: de::Error>(self, key: u64) -> Result<(), E> {
        self.visit_str(&key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<(), E> {
        self.visit_str(&key.to_string())
    }

    fn visit_bool<E: de::Error>(self, key: bool) -> Result<(), E> {
        self.visit_str(&key.to_string())
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests;
