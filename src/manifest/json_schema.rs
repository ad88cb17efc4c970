//! The JSON Schema of manifest format 1, generated from the raw types, and the key lookups the
//! loader makes in it: the schema is the one list of every key a manifest may contain.

use std::sync::LazyLock;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::manifest::key_path::{KeyPath, PathSegment};
use crate::manifest::raw::RawPipeline;

/// The schema as a JSON value (draft 7, which editors support best).
pub fn pipeline_schema() -> &'static Value {
    static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
        let schema = SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<RawPipeline>();
        let mut value = schema.to_value();
        tomlify(&mut value);
        value
    });
    &SCHEMA
}

/// Adapts serde's schema to TOML: there is no `null` in TOML (an absent key is how a value is
/// left out), integer formats mean nothing to editors, and every table is closed, so that
/// editors flag unknown keys as pipewright does.
fn tomlify(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|kind| kind != "null");
                if types.len() == 1 {
                    let single = types.remove(0);
                    map.insert("type".to_owned(), single);
                }
            }
            for combinator in ["anyOf", "oneOf"] {
                if let Some(Value::Array(members)) = map.get_mut(combinator) {
                    members.retain(|member| member.get("type") != Some(&Value::from("null")));
                    if members.len() == 1 {
                        let single = members.remove(0);
                        map.remove(combinator);
                        if let Value::Object(inner) = single {
                            for (key, value) in inner {
                                map.entry(key).or_insert(value);
                            }
                        }
                    }
                }
            }
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|format| {
                    matches!(
                        format,
                        "uint" | "uint32" | "uint64" | "int32" | "int64" | "double" | "float"
                    )
                })
            {
                map.remove("format");
            }
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                // `default` of `null` is what serde writes for an absent key.
                for property in properties.values_mut() {
                    if let Value::Object(property) = property
                        && property.get("default") == Some(&Value::Null)
                    {
                        property.remove("default");
                    }
                }
            }
            for value in map.values_mut() {
                tomlify(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tomlify),
        _ => {}
    }
}

/// The schema as committed in `schemas/pipeline.schema.json`: pretty-printed, with a final
/// newline.
pub fn pipeline_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(pipeline_schema()).expect("a JSON value prints");
    text.push('\n');
    text
}

/// The keys the table at `path` may contain, in schema order. Empty when the path does not
/// lead to a table of known shape.
pub fn known_keys(path: &KeyPath) -> Vec<String> {
    let root = pipeline_schema();
    let mut node = root;
    for segment in path.segments() {
        match child(root, node, segment) {
            Some(next) => node = next,
            None => return Vec::new(),
        }
    }
    let mut keys = Vec::new();
    collect_properties(root, node, &mut keys);
    keys
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    // A reference chain is short; the bound only guards against a malformed schema.
    for _ in 0..16 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}

/// The alternatives of a node: itself, or the members of its `anyOf` / `oneOf` / `allOf`.
fn alternatives<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let node = resolve(root, node);
    let mut found = vec![node];
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(members) = node.get(combinator).and_then(Value::as_array) {
            found.extend(members.iter().map(|member| resolve(root, member)));
        }
    }
    found
}

fn child<'a>(root: &'a Value, node: &'a Value, segment: &PathSegment) -> Option<&'a Value> {
    alternatives(root, node)
        .into_iter()
        .find_map(|candidate| match segment {
            PathSegment::Key(key) => candidate
                .get("properties")
                .and_then(|properties| properties.get(key))
                .or_else(|| {
                    candidate
                        .get("additionalProperties")
                        .filter(|v| v.is_object())
                }),
            PathSegment::Index(_) => candidate.get("items"),
        })
}

fn collect_properties(root: &Value, node: &Value, keys: &mut Vec<String>) {
    for candidate in alternatives(root, node) {
        if let Some(properties) = candidate.get("properties").and_then(Value::as_object) {
            for key in properties.keys() {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_of_nested_tables() {
        let root = known_keys(&KeyPath::root());
        assert_eq!(
            root,
            [
                "pipeline",
                "connections",
                "monitoring",
                "logging",
                "vars",
                "steps"
            ]
        );
        let step = known_keys(&KeyPath::root().key("steps").key("any_step"));
        assert!(step.contains(&"after".to_owned()));
        assert!(step.contains(&"shell".to_owned()));
        let endpoint = known_keys(&KeyPath::root().key("steps").key("x").key("from"));
        assert!(endpoint.contains(&"connection".to_owned()));
        let check = known_keys(&KeyPath::root().key("steps").key("x").key("checks").index(3));
        assert!(check.contains(&"severity".to_owned()));
        assert!(known_keys(&KeyPath::root().key("vars").key("x")).is_empty());
    }

    #[test]
    fn schema_speaks_toml() {
        fn has_null_type(node: &Value) -> bool {
            match node {
                Value::Object(map) => map.iter().any(|(key, value)| {
                    (key == "type"
                        && (value == "null"
                            || value
                                .as_array()
                                .is_some_and(|types| types.iter().any(|kind| kind == "null"))))
                        || has_null_type(value)
                }),
                Value::Array(items) => items.iter().any(has_null_type),
                _ => false,
            }
        }
        assert!(!has_null_type(pipeline_schema()), "TOML has no null");
        assert_eq!(
            pipeline_schema()["definitions"]["RawStep"]["additionalProperties"],
            Value::Bool(false)
        );
    }

    #[test]
    fn schema_is_draft_7() {
        assert_eq!(
            pipeline_schema()["$schema"],
            "http://json-schema.org/draft-07/schema#"
        );
    }
}
