//! Test support: arbitrary JSON built from a protocol's own words, for the property tests that feed
//! client bodies to the translators (any value is an answer or a 400, never a panic).

use proptest::prelude::*;
use serde_json::Value;

/// JSON values up to five levels deep whose strings and keys are often `words` and `keys`.
pub fn json(
    words: &'static [&'static str],
    keys: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        proptest::sample::select(words).prop_map(|s| Value::String(s.into())),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(keys).prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
