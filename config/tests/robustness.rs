//! Loading never panics, whatever the text: the example file with random edits gives either a
//! configuration or errors whose positions lie inside the text.

use std::path::Path;

use config::Config;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("fixtures/valid/full.toml");

/// Characters that make TOML structure, so that edits reach the schema and validation, not
/// only the tokenizer.
const ALPHABET: &[char] = &[
    '[', ']', '{', '}', '=', '"', ',', '.', '\n', ' ', '#', '0', '1', '9', 'a', 'x', '-', ':', '/',
    '%',
];

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..EXAMPLE.len(), 1..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (
            0..EXAMPLE.len(),
            proptest::collection::vec(proptest::sample::select(ALPHABET), 1..8)
        )
            .prop_map(|(at, chars)| Edit::Insert {
                at,
                text: chars.into_iter().collect()
            }),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            Edit::Delete { at, len } => {
                let start = (*at).min(chars.len());
                let end = (start + len).min(chars.len());
                chars.drain(start..end);
            }
            Edit::Insert { at, text } => {
                let at = (*at).min(chars.len());
                chars.splice(at..at, text.chars());
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn edited_example_loads_or_reports_located_errors(
        edits in proptest::collection::vec(edit(), 1..4)
    ) {
        let text = apply(EXAMPLE, &edits);
        let lines = text.lines().count().max(1);
        if let Err(errors) = Config::from_toml(&text, "edited.toml", Path::new("/nonexistent")) {
            prop_assert!(!errors.is_empty());
            for error in errors.iter() {
                if let Some(position) = error.position {
                    prop_assert!(position.line <= lines + 1, "{error} in\n{text}");
                }
            }
        }
    }
}
