//! A result checked against the schema it claims: `run-result/schema.json`, read from the
//! repository at build time, so every test checks against the same file.

/// What the run-result schema finds wrong with `value` (empty when it holds).
pub fn result_schema_errors(value: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../run-result/schema.json"))
            .expect("run-result/schema.json is JSON");
    let validator = jsonschema::validator_for(&schema).expect("run-result/schema.json is a schema");
    validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect()
}
