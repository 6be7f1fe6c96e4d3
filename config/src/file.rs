//! The TOML configuration file: text to a checked [`Config`], reporting every error with the
//! file, line, column and key path.
//!
//! Serde stops at the first unknown key or wrong type. To report them all, the document is
//! parsed once into a spanned tree; deserialization is retried after each error with the
//! offending key removed (every retry removes one key, so the loop ends). Values that failed
//! this way are left out of validation, and validation's own problems under them are dropped
//! as already reported. Validation problems carry key paths only; the tree turns each path
//! back into a position.

use std::path::Path;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, Deserializer};
use toml::Spanned;

use crate::error::{ConfigError, ConfigErrors, ErrorKind, KeyPath, Position, Problems, Segment};
use crate::model::Config;
use crate::raw::RawFile;
use crate::validate;

impl Config {
    /// Reads and checks a configuration file. Relative paths inside it (password files,
    /// sockets, directories) are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                origin: origin.clone(),
                position: None,
                path: KeyPath::root(),
                kind: ErrorKind::Io(e.to_string()),
            }])
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, &origin, base_dir)
    }

    /// Checks configuration text; `origin` names it in errors, `base_dir` resolves relative
    /// paths. Returns every error found, ordered by position.
    pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
        let located = |position: Option<usize>, path: KeyPath, kind: ErrorKind| ConfigError {
            origin: origin.to_owned(),
            position: position.map(|offset| Position::of_offset(text, offset)),
            path,
            kind,
        };

        let (document, syntax_errors) = DeTable::parse_recoverable(text);
        if !syntax_errors.is_empty() {
            // A damaged tree would only add confusing follow-up errors.
            let mut errors: Vec<ConfigError> = syntax_errors
                .iter()
                .map(|e| {
                    let position = e
                        .span()
                        .map(|span| span.start)
                        .or_else(|| line_reproducing(text, e.message()));
                    located(
                        position,
                        KeyPath::root(),
                        ErrorKind::Syntax(e.message().to_owned()),
                    )
                })
                .collect();
            sort(&mut errors);
            return Err(ConfigErrors(errors));
        }

        let mut errors = Vec::new();
        let mut removed = Vec::new();
        let mut working = document.clone();
        let mut raw = None;
        for _ in 0..=count_entries(document.get_ref()) {
            match RawFile::deserialize(Deserializer::from(working.clone())) {
                Ok(file) => {
                    raw = Some(file);
                    break;
                }
                Err(error) => {
                    let path = error
                        .span()
                        .map(|span| locate(working.get_ref(), span.start))
                        .unwrap_or_default();
                    let position =
                        offset_of(&document, &path).or_else(|| error.span().map(|span| span.start));
                    errors.push(located(
                        position,
                        path.clone(),
                        schema_error(error.message()),
                    ));
                    match remove(working.get_mut(), &path) {
                        Some(removed_path) => removed.push(removed_path),
                        None => break,
                    }
                }
            }
        }

        let mut problems = Problems::default();
        let config = raw.and_then(|raw| validate::file(raw, base_dir, &mut problems));
        errors.extend(
            problems
                .0
                .into_iter()
                .filter(|problem| !removed.iter().any(|r| problem.path.starts_with(r)))
                .map(|problem| {
                    located(
                        offset_of(&document, &problem.path),
                        problem.path,
                        problem.kind,
                    )
                }),
        );
        match config {
            Some(config) if errors.is_empty() => Ok(config),
            _ => {
                sort(&mut errors);
                Err(ConfigErrors(errors))
            }
        }
    }
}

/// Errors without a position (a whole missing section) first, then by position.
/// The offset of the line where a syntax error the parser reports without a span (its
/// recursion limit on a dotted key with too many parts) happens: the last line of the shortest
/// run of whole lines from the start that gives it, found by bisection (a few parses, on this
/// error path only), so that the error is located like every other (found by the `config`
/// fuzz target).
fn line_reproducing(text: &str, message: &str) -> Option<usize> {
    let reproduces = |end: usize| {
        let (_, errors) = DeTable::parse_recoverable(&text[..end]);
        errors
            .iter()
            .any(|e| e.span().is_none() && e.message() == message)
    };
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        starts.push(offset);
        offset += line.len();
        ends.push(offset);
    }
    let mut high = ends.len().checked_sub(1)?;
    if !reproduces(ends[high]) {
        return None;
    }
    let mut low = 0;
    while low < high {
        let middle = (low + high) / 2;
        if reproduces(ends[middle]) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    starts.get(high).copied()
}

fn sort(errors: &mut Vec<ConfigError>) {
    errors.sort_by(|a, b| (a.position, &a.path).cmp(&(b.position, &b.path)));
    errors.dedup();
}

/// Serde's words for Rust types, in the file's terms.
fn schema_error(message: &str) -> ErrorKind {
    ErrorKind::Schema(schema_message(message))
}

pub(crate) fn schema_message(message: &str) -> String {
    message
        .replacen("unknown field", "unknown key", 1)
        .replacen("unknown variant", "unknown value", 1)
        .replace("expected i64", "expected an integer")
}

fn count_entries(table: &DeTable<'_>) -> usize {
    table
        .iter()
        .map(|(_, value)| 1 + count_value_entries(value.get_ref()))
        .sum()
}

fn count_value_entries(value: &DeValue<'_>) -> usize {
    match value {
        DeValue::Table(table) => count_entries(table),
        DeValue::Array(array) => array.iter().map(|v| count_value_entries(v.get_ref())).sum(),
        _ => 0,
    }
}

fn contains(span: std::ops::Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

/// The deepest key or array element whose text contains `offset`. Table spans cover only
/// their `[header]`, so the whole tree is searched rather than descended by span.
fn locate(table: &DeTable<'_>, offset: usize) -> KeyPath {
    fn walk_table(
        table: &DeTable<'_>,
        offset: usize,
        path: &mut Vec<Segment>,
        best: &mut Vec<Segment>,
    ) {
        for (key, value) in table.iter() {
            path.push(Segment::Key(key.get_ref().to_string()));
            if (contains(key.span(), offset) || contains(value.span(), offset))
                && path.len() > best.len()
            {
                *best = path.clone();
            }
            walk_value(value.get_ref(), offset, path, best);
            path.pop();
        }
    }

    fn walk_value(
        value: &DeValue<'_>,
        offset: usize,
        path: &mut Vec<Segment>,
        best: &mut Vec<Segment>,
    ) {
        match value {
            DeValue::Table(table) => walk_table(table, offset, path, best),
            DeValue::Array(array) => {
                for (i, element) in array.iter().enumerate() {
                    path.push(Segment::Index(i));
                    if contains(element.span(), offset) && path.len() > best.len() {
                        *best = path.clone();
                    }
                    walk_value(element.get_ref(), offset, path, best);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    let mut best = Vec::new();
    walk_table(table, offset, &mut Vec::new(), &mut best);
    KeyPath::from_segments(best)
}

/// Where the text of `path` starts: a key's name (or its `[header]`), an array element; for a
/// path that does not exist (a missing key), the deepest part of it that does.
fn offset_of(document: &Spanned<DeTable<'_>>, path: &KeyPath) -> Option<usize> {
    let mut offset = None;
    let mut table: Option<&DeTable<'_>> = Some(document.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    for segment in path.segments() {
        let value: &Spanned<DeValue<'_>> = match (segment, table, array) {
            (Segment::Key(key), Some(t), _) => match t.get_key_value(key.as_str()) {
                Some((k, v)) => {
                    offset = Some(k.span().start.min(v.span().start));
                    v
                }
                None => break,
            },
            (Segment::Index(i), _, Some(a)) => match <[_]>::get(a, *i) {
                Some(v) => {
                    offset = Some(v.span().start);
                    v
                }
                None => break,
            },
            _ => break,
        };
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    offset
}

/// Removes the innermost key of `path` (an array element is removed with the key holding the
/// array); returns the path of what was removed, or `None` if `path` names no key.
fn remove(table: &mut DeTable<'_>, path: &KeyPath) -> Option<KeyPath> {
    let segments = path.segments();
    let last_key = segments
        .iter()
        .rposition(|s| matches!(s, Segment::Key(_)))?;
    let target = &segments[..=last_key];
    remove_in_table(table, target).then(|| KeyPath::from_segments(target.to_vec()))
}

fn remove_in_table(table: &mut DeTable<'_>, segments: &[Segment]) -> bool {
    match segments {
        [Segment::Key(key)] => table.remove(key.as_str()).is_some(),
        [Segment::Key(key), rest @ ..] => table
            .get_mut(key.as_str())
            .is_some_and(|value| remove_in_value(value.get_mut(), rest)),
        _ => false,
    }
}

fn remove_in_value(value: &mut DeValue<'_>, segments: &[Segment]) -> bool {
    match (value, segments) {
        (DeValue::Table(table), _) => remove_in_table(table, segments),
        (DeValue::Array(array), [Segment::Index(index), rest @ ..]) => {
            <[_]>::get_mut(array, *index).is_some_and(|v| remove_in_value(v.get_mut(), rest))
        }
        _ => false,
    }
}
