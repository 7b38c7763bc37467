//! The DynamoDB table as `infra/template.yaml` declares it, and creating that table on DynamoDB Local.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Deserialize;
use std::error::Error;

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GsiDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDef {
    pub attribute_name: String,
    pub enabled: bool,
}

/// The properties of the `Table` resource that shape the table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TableDef {
    pub billing_mode: String,
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<GsiDef>,
    pub time_to_live_specification: Option<TtlDef>,
}

/// The template as YAML (CloudFormation tags such as `!Ref` parse as tagged values).
pub fn load_template() -> Result<serde_yaml::Value, BoxError> {
    let path = crate::workspace_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_yaml::from_str(&text)?)
}

pub fn table_def() -> Result<TableDef, BoxError> {
    let template = load_template()?;
    let props = template
        .get("Resources")
        .and_then(|r| r.get("Table"))
        .and_then(|t| t.get("Properties"))
        .ok_or("infra/template.yaml has no Resources.Table.Properties")?;
    Ok(serde_yaml::from_value(props.clone())?)
}

fn key_schema(defs: &[KeyDef]) -> Result<Vec<KeySchemaElement>, BoxError> {
    defs.iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()?)
        })
        .collect()
}

fn attribute(a: &AttributeDef) -> Result<AttributeDefinition, BoxError> {
    Ok(AttributeDefinition::builder()
        .attribute_name(&a.attribute_name)
        .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
        .build()?)
}

fn index(g: &GsiDef) -> Result<GlobalSecondaryIndex, BoxError> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(&g.index_name)
        .set_key_schema(Some(key_schema(&g.key_schema)?))
        .projection(
            Projection::builder().projection_type(ProjectionType::from(g.projection.projection_type.as_str())).build(),
        )
        .build()?)
}

/// Create `name` with the template's definition (and its TTL setting). An existing table (the `make dev`
/// one, kept across restarts) gets the indexes the template added since; nothing else changes.
pub async fn create_table(client: &Client, name: &str) -> Result<(), BoxError> {
    let def = table_def()?;
    let existing = client.describe_table().table_name(name).send().await;
    if let Ok(out) = existing {
        let have: Vec<String> = out
            .table
            .and_then(|t| t.global_secondary_indexes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|g| g.index_name)
            .collect();
        for g in def.global_secondary_indexes.iter().filter(|g| !have.contains(&g.index_name)) {
            let i = index(g)?;
            let create = aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                .index_name(&g.index_name)
                .set_key_schema(Some(i.key_schema().to_vec()))
                .set_projection(i.projection().cloned())
                .build()?;
            let mut req = client.update_table().table_name(name).global_secondary_index_updates(
                aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder().create(create).build(),
            );
            for a in &def.attribute_definitions {
                req = req.attribute_definitions(attribute(a)?);
            }
            req.send().await?;
        }
        return Ok(());
    }
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(def.billing_mode.as_str()))
        .set_key_schema(Some(key_schema(&def.key_schema)?));
    for a in &def.attribute_definitions {
        req = req.attribute_definitions(attribute(a)?);
    }
    for g in &def.global_secondary_indexes {
        req = req.global_secondary_indexes(index(g)?);
    }
    req.send().await?;
    if let Some(ttl) = &def.time_to_live_specification {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(&ttl.attribute_name).enabled(ttl.enabled).build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}
