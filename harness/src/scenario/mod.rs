//! Scenario files: the serde model, validation with file/line/column errors, the JSON Schema and the seeded plan.
