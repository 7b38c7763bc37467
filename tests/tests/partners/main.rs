//! Integration tests of the `partners` function (with auth and usage) against DynamoDB Local and moto.

mod analytics;
mod applications;
mod assets;
mod audit;
mod events;
mod isolation;
mod keys;
mod lifecycle;
mod limits;
mod marketplace;
mod members;

use integration_tests::harness::Reply;

/// The names of the fields a 400 names.
pub fn fields(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
}
