//! The report's JSON Schema, `schema/report.schema.json`: derived from the report model with
//! schemars, so it cannot drift from what the JSON writer emits, and checked in, so CI users can
//! validate reports without blip's source.

use crate::report::{Report, fixtures, golden, json::render};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json");

/// The schema as the model defines it, as the checked-in file holds it.
fn derived() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

/// The checked-in schema is the one the model derives: a change of the model that leaves the
/// file stale fails here. `BLIP_WRITE_SCHEMA=1` rewrites the file.
#[test]
fn the_checked_in_schema_is_the_models() {
    let schema = derived();
    if std::env::var_os("BLIP_WRITE_SCHEMA").is_some() {
        std::fs::write(PATH, &schema).unwrap();
    }
    let checked_in = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(checked_in == schema, "{PATH} is stale: regenerate it with BLIP_WRITE_SCHEMA=1 cargo test schema");
}

/// Reports the recorder and the builders made, through the JSON writer, are valid under the
/// checked-in schema: a wrapped deploy with windows over phases, and the hostile texts.
#[test]
fn real_reports_are_valid_under_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let reports =
        [golden::scenario(), fixtures::sample_report(), fixtures::deploy_report(), fixtures::hostile_report()];
    for report in reports {
        let json: serde_json::Value = serde_json::from_str(&render(&report).unwrap()).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema is strict enough to catch a report that breaks the contract.
    let mut json: serde_json::Value = serde_json::from_str(&render(&golden::scenario()).unwrap()).unwrap();
    json["targets"][0]["probes"] = serde_json::json!("many");
    assert!(!validator.is_valid(&json));
}
