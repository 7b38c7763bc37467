//! IAM proven by the tests: every AWS request a function's clients send in the integration tests is checked
//! against that function's `Policies` in `infra/template.yaml`, as IAM would check it in AWS (DynamoDB Local
//! and moto check nothing).
//!
//! The harness gives each function's SDK clients an [`IamRecorder`] tagged with the function's binary name
//! (`Metadata.BuildProperties.Binary` in the template). Before an operation is serialized the recorder turns it
//! into the IAM requests AWS would authorize:
//!
//! - DynamoDB: one `dynamodb:<Operation>` on the table (`…/index/<name>` for a `Query`/`Scan` of an index);
//!   a `TransactWriteItems` is authorized per item (`Put`/`Update`/`Delete`/`ConditionCheck` →
//!   `PutItem`/`UpdateItem`/`DeleteItem`/`ConditionCheckItem`), a `TransactGetItems` as `GetItem` per item;
//!   `BatchGetItem`/`BatchWriteItem` are their own actions, once per table.
//! - Secrets Manager `GetSecretValue`, S3 `GetObject`/`PutObject` (also when only presigned: the URL carries the
//!   function's credentials), SES `SendEmail` (`ses:SendEmail` on the sender identity, with `ses:FromAddress`).
//!
//! Resources are named as the template names them: the test's table, bucket, secret or sender address is
//! bound to the environment variable the function reads it from (`TABLE_NAME`, `INVOICE_BUCKET`,
//! `STRIPE_SECRET_ID`, `SENDER_EMAIL`, …), and that variable's value in the template (`!Ref Table`, …) says which
//! resource it is. A value no variable of the function carries is a failure too (the function would have no
//! configured resource to be allowed on).
//!
//! A request the policy does not allow panics at once, naming the function, the action and the resource, so
//! the test that exercised it fails. Every observation is also written to `target/iam-observed/<binary>-<pid>
//! .json` (a record of what each function does, for review).
//!
//! Policies are explicit statements (`Version` + `Statement`); the SAM policy templates `DynamoDBCrudPolicy`,
//! `DynamoDBReadPolicy` and `AWSSecretsManagerGetSecretValuePolicy` are expanded; anything else (another
//! template, a managed policy, `NotAction`, an unknown condition operator) fails the check rather than being
//! guessed.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

const PARTITION: &str = "aws";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// One IAM request: an action on a resource ARN, with the condition keys it carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Access {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, String>,
    /// What the test sent, for messages (`TransactWriteItems on test-…`).
    pub origin: String,
}

/// One function's environment and policy statements, resolved.
#[derive(Debug, Clone)]
pub struct FunctionPolicy {
    pub logical_id: String,
    pub binary: String,
    /// Environment variables (Globals merged with the function's own), resolved to template values.
    pub env: BTreeMap<String, String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// `StringEquals` conditions: key → allowed values.
    pub string_equals: BTreeMap<String, Vec<String>>,
}

/// Every function's policy in a template.
#[derive(Debug, Clone)]
pub struct Policies {
    pub functions: BTreeMap<String, FunctionPolicy>,
}

/// The template's resources and parameters, for resolving intrinsic functions.
struct Resolver<'a> {
    resources: &'a serde_yaml::Mapping,
    parameters: BTreeSet<String>,
}

fn str_of(v: &Yaml) -> Option<&str> {
    v.as_str()
}

impl Resolver<'_> {
    fn resource_type(&self, logical: &str) -> Option<&str> {
        self.resources.get(logical).and_then(|r| r.get("Type")).and_then(str_of)
    }

    fn arn(&self, logical: &str) -> Result<String, String> {
        match self.resource_type(logical) {
            Some("AWS::DynamoDB::Table") => Ok(format!("arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{logical}")),
            Some("AWS::S3::Bucket") => Ok(format!("arn:{PARTITION}:s3:::{logical}")),
            Some("AWS::SecretsManager::Secret") => {
                Ok(format!("arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical}"))
            }
            Some("AWS::Serverless::Function") => {
                Ok(format!("arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{logical}"))
            }
            other => Err(format!("!GetAtt {logical}.Arn: unsupported resource type {other:?}")),
        }
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        match name {
            "AWS::Partition" => return Ok(PARTITION.into()),
            "AWS::Region" => return Ok(REGION.into()),
            "AWS::AccountId" => return Ok(ACCOUNT.into()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            _ => {}
        }
        if self.parameters.contains(name) {
            return Ok(format!("{{param:{name}}}"));
        }
        match self.resource_type(name) {
            // Ref of a secret is its ARN; of a table or bucket, its name (here: the logical id).
            Some("AWS::SecretsManager::Secret") => self.arn(name),
            Some(_) => Ok(name.to_owned()),
            None => Err(format!("!Ref {name}: no such parameter or resource")),
        }
    }

    fn sub(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| format!("!Sub {text}: unclosed ${{"))? + start;
            let name = &rest[start + 2..end];
            out.push_str(&match name.strip_suffix(".Arn") {
                Some(logical) => self.arn(logical)?,
                None => self.reference(name)?,
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A scalar or intrinsic function, resolved to a string.
    fn value(&self, v: &Yaml) -> Result<String, String> {
        match v {
            Yaml::String(s) => Ok(s.clone()),
            Yaml::Number(n) => Ok(n.to_string()),
            Yaml::Bool(b) => Ok(b.to_string()),
            Yaml::Tagged(t) => {
                let tag = t.tag.to_string();
                match (tag.trim_start_matches('!'), &t.value) {
                    ("Ref", Yaml::String(name)) => self.reference(name),
                    ("Sub", Yaml::String(text)) => self.sub(text),
                    ("GetAtt", Yaml::String(path)) => match path.strip_suffix(".Arn") {
                        Some(logical) => self.arn(logical),
                        None => Err(format!("!GetAtt {path}: only .Arn is supported")),
                    },
                    // A conditional value (OTEL_EXPORTER_OTLP_ENDPOINT when OtelLayerArn is set): its first branch.
                    ("If", Yaml::Sequence(args)) if args.len() == 3 => self.value(&args[1]),
                    (other, value) => Err(format!("unsupported intrinsic !{other} {value:?}")),
                }
            }
            Yaml::Mapping(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().expect("one entry");
                let tagged = serde_yaml::value::TaggedValue {
                    tag: serde_yaml::value::Tag::new(k.as_str().unwrap_or("").trim_start_matches("Fn::")),
                    value: inner.clone(),
                };
                self.value(&Yaml::Tagged(Box::new(tagged)))
            }
            other => Err(format!("unsupported value {other:?}")),
        }
    }

    fn list(&self, v: &Yaml) -> Result<Vec<String>, String> {
        match v {
            Yaml::Sequence(items) => items.iter().map(|i| self.value(i)).collect(),
            single => Ok(vec![self.value(single)?]),
        }
    }
}

impl Policies {
    /// The policies of `infra/template.yaml`.
    pub fn from_template() -> Result<Self, String> {
        let path = crate::workspace_root().join("infra/template.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let template: Yaml = serde_yaml::from_str(text).map_err(|e| format!("template: {e}"))?;
        let resources = template.get("Resources").and_then(Yaml::as_mapping).ok_or("template has no Resources")?;
        let parameters = template
            .get("Parameters")
            .and_then(Yaml::as_mapping)
            .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let resolver = Resolver { resources, parameters };
        let global_env = template
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Yaml::as_mapping)
            .cloned()
            .unwrap_or_default();
        let mut functions = BTreeMap::new();
        for (id, resource) in resources {
            let Some(logical_id) = id.as_str() else { continue };
            if resource.get("Type").and_then(str_of) != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(str_of)
                .ok_or_else(|| format!("{logical_id}: no Metadata.BuildProperties.Binary"))?
                .to_owned();
            let props = resource.get("Properties").ok_or_else(|| format!("{logical_id}: no Properties"))?;
            let mut env = BTreeMap::new();
            let own_env = props
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Yaml::as_mapping)
                .cloned()
                .unwrap_or_default();
            for (k, v) in global_env.iter().chain(own_env.iter()) {
                let key = k.as_str().ok_or_else(|| format!("{logical_id}: environment key {k:?}"))?;
                let value = resolver.value(v).map_err(|e| format!("{logical_id}: {key}: {e}"))?;
                env.insert(key.to_owned(), value);
            }
            let mut statements = Vec::new();
            for policy in props.get("Policies").and_then(Yaml::as_sequence).into_iter().flatten() {
                statements.extend(policy_statements(&resolver, policy).map_err(|e| format!("{logical_id}: {e}"))?);
            }
            functions
                .insert(binary.clone(), FunctionPolicy { logical_id: logical_id.to_owned(), binary, env, statements });
        }
        Ok(Self { functions })
    }

    pub fn function(&self, binary: &str) -> Option<&FunctionPolicy> {
        self.functions.get(binary)
    }

    /// Ok when `function`'s policy allows `access`; otherwise a message naming the function, the action and
    /// the resource.
    pub fn check(&self, function: &str, access: &Access) -> Result<(), String> {
        let policy = self.function(function).ok_or_else(|| {
            format!("IAM: no function with Binary `{function}` in infra/template.yaml (recorder tagged wrongly?)")
        })?;
        let matches = |s: &Statement| {
            s.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &access.action.to_ascii_lowercase()))
                && s.resources.iter().any(|r| glob(r, &access.resource))
                && s.string_equals
                    .iter()
                    .all(|(key, allowed)| access.context.get(key).is_some_and(|v| allowed.iter().any(|a| a == v)))
        };
        if let Some(deny) = policy.statements.iter().find(|s| !s.allow && matches(s)) {
            return Err(format!(
                "IAM: function `{function}` ({}) sends {} on {} ({}), which its statement `{}` denies",
                policy.logical_id, access.action, access.resource, access.origin, deny.sid
            ));
        }
        if policy.statements.iter().any(|s| s.allow && matches(s)) {
            return Ok(());
        }
        Err(format!(
            "IAM: function `{function}` ({}) sends {} on {} ({}{}), which its Policies in infra/template.yaml do not \
             allow",
            policy.logical_id,
            access.action,
            access.resource,
            access.origin,
            if access.context.is_empty() { String::new() } else { format!(", context {:?}", access.context) },
        ))
    }
}

fn policy_statements(resolver: &Resolver<'_>, policy: &Yaml) -> Result<Vec<Statement>, String> {
    let map = policy.as_mapping().ok_or_else(|| format!("policy {policy:?}: use explicit statements"))?;
    if let Some(list) = map.get("Statement") {
        let list = match list {
            Yaml::Sequence(items) => items.clone(),
            single => vec![single.clone()],
        };
        return list.iter().map(|s| statement(resolver, s)).collect();
    }
    // SAM policy templates this checker can expand; any other entry is refused, never guessed.
    let (name, args) = map.iter().next().ok_or("empty policy")?;
    let name = name.as_str().unwrap_or("");
    let arg =
        |key: &str| args.get(key).map(|v| resolver.value(v)).transpose()?.ok_or_else(|| format!("{name}: no {key}"));
    let table_resources = |table: String| {
        let arn = format!("arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}");
        vec![arn.clone(), format!("{arn}/index/*")]
    };
    let simple = |sid: &str, actions: &[&str], resources: Vec<String>| Statement {
        sid: sid.to_owned(),
        allow: true,
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        resources,
        string_equals: BTreeMap::new(),
    };
    match name {
        "DynamoDBCrudPolicy" => Ok(vec![simple(
            name,
            &[
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ],
            table_resources(arg("TableName")?),
        )]),
        "DynamoDBReadPolicy" => Ok(vec![simple(
            name,
            &[
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ],
            table_resources(arg("TableName")?),
        )]),
        "AWSSecretsManagerGetSecretValuePolicy" => {
            Ok(vec![simple(name, &["secretsmanager:GetSecretValue"], vec![arg("SecretArn")?])])
        }
        other => Err(format!("policy `{other}`: not understood by tests/src/iam.rs; use explicit statements")),
    }
}

fn statement(resolver: &Resolver<'_>, s: &Yaml) -> Result<Statement, String> {
    for unsupported in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
        if s.get(unsupported).is_some() {
            return Err(format!("statement uses {unsupported}, which tests/src/iam.rs does not evaluate"));
        }
    }
    let sid = s.get("Sid").and_then(str_of).unwrap_or("(no Sid)").to_owned();
    let allow = match s.get("Effect").and_then(str_of) {
        Some("Allow") => true,
        Some("Deny") => false,
        other => return Err(format!("statement {sid}: Effect {other:?}")),
    };
    let actions = resolver.list(s.get("Action").ok_or_else(|| format!("statement {sid}: no Action"))?)?;
    let resources = resolver.list(s.get("Resource").ok_or_else(|| format!("statement {sid}: no Resource"))?)?;
    let mut string_equals = BTreeMap::new();
    if let Some(condition) = s.get("Condition").and_then(Yaml::as_mapping) {
        for (op, keys) in condition {
            if op.as_str() != Some("StringEquals") {
                return Err(format!("statement {sid}: condition operator {op:?} is not evaluated by tests/src/iam.rs"));
            }
            for (key, values) in keys.as_mapping().ok_or_else(|| format!("statement {sid}: condition"))? {
                let key = key.as_str().ok_or_else(|| format!("statement {sid}: condition key"))?;
                string_equals.insert(key.to_owned(), resolver.list(values)?);
            }
        }
    }
    Ok(Statement { sid, allow, actions, resources, string_equals })
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The template's policies, parsed once per test process.
pub fn template_policies() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| Policies::from_template().unwrap_or_else(|e| panic!("infra/template.yaml: {e}")))
}

/// Everything observed in this process: function → accesses.
fn observed() -> &'static Mutex<BTreeMap<String, BTreeSet<Access>>> {
    static OBSERVED: OnceLock<Mutex<BTreeMap<String, BTreeSet<Access>>>> = OnceLock::new();
    OBSERVED.get_or_init(Default::default)
}

/// What this process observed for `function` so far (all tests of the binary).
pub fn observed_for(function: &str) -> BTreeSet<Access> {
    observed().lock().expect("observed").get(function).cloned().unwrap_or_default()
}

fn write_observed(all: &BTreeMap<String, BTreeSet<Access>>) {
    let dir = crate::workspace_root().join("target/iam-observed");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let exe = std::env::current_exe().ok();
    let suite = exe
        .as_ref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .map(|s| s.split('-').next().unwrap_or(s).to_owned())
        .unwrap_or_else(|| "tests".into());
    let doc: BTreeMap<&String, Vec<(&str, &str)>> = all
        .iter()
        .map(|(f, set)| (f, set.iter().map(|a| (a.action.as_str(), a.resource.as_str())).collect()))
        .collect();
    let path = dir.join(format!("{suite}-{}.json", std::process::id()));
    let tmp = path.with_extension("tmp");
    if let Ok(text) = serde_json::to_string_pretty(&doc)
        && std::fs::write(&tmp, text).is_ok()
    {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// Adds an observation to this process's record (an S3 object as its bucket and first key segment, so the
/// record lists prefixes, not every object).
fn note_observed(function: &str, access: &Access) {
    let mut summary = access.clone();
    if let Some(object) = summary.resource.strip_prefix("arn:aws:s3:::") {
        let mut parts = object.splitn(3, '/');
        if let (Some(bucket), Some(prefix), Some(_)) = (parts.next(), parts.next(), parts.next()) {
            summary.resource = format!("arn:aws:s3:::{bucket}/{prefix}/*");
        }
    }
    summary.origin = String::new();
    let mut all = observed().lock().expect("observed");
    if all.entry(function.to_owned()).or_default().insert(summary) {
        write_observed(&all);
    }
}

/// An SDK interceptor that turns each operation of one function's client into IAM requests and checks them
/// against the function's policy (panicking on a request the policy does not allow).
#[derive(Debug, Clone)]
pub struct IamRecorder {
    function: String,
    /// Test values (a table name, a bucket, a secret id, a sender address) → the environment variable the
    /// function reads them from in Lambda.
    bindings: Arc<Mutex<BTreeMap<String, String>>>,
    /// When set, the template the accesses are checked against (else `infra/template.yaml`).
    policies: Option<Arc<Policies>>,
    /// Violations are collected here instead of panicking (for tests of the check itself).
    collect: Option<Arc<Mutex<Vec<String>>>>,
    /// This recorder's own observations.
    seen: Arc<Mutex<BTreeSet<Access>>>,
}

impl IamRecorder {
    pub fn new(function: &str) -> Self {
        assert!(
            template_policies().function(function).is_some(),
            "no function with Binary `{function}` in infra/template.yaml"
        );
        Self {
            function: function.to_owned(),
            bindings: Arc::default(),
            policies: None,
            collect: None,
            seen: Arc::default(),
        }
    }

    /// Checks against `policies` and collects violations instead of panicking.
    pub fn collecting(function: &str, policies: Policies) -> (Self, Arc<Mutex<Vec<String>>>) {
        let violations = Arc::new(Mutex::new(Vec::new()));
        let mut r = Self::new(function);
        r.policies = Some(Arc::new(policies));
        r.collect = Some(violations.clone());
        (r, violations)
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// `value` is what the function reads from the environment variable `var` (`TABLE_NAME`, …).
    pub fn bind(self, value: &str, var: &str) -> Self {
        self.bindings.lock().expect("bindings").insert(value.to_owned(), var.to_owned());
        self
    }

    /// What this recorder observed.
    pub fn seen(&self) -> BTreeSet<Access> {
        self.seen.lock().expect("seen").clone()
    }

    fn policies(&self) -> &Policies {
        self.policies.as_deref().unwrap_or_else(|| template_policies())
    }

    /// The template value behind a test value: through the variable bound to it (or, for cold starts, a
    /// process environment variable holding it) and the function's environment in the template.
    fn resolve(&self, value: &str, what: &str) -> Result<String, String> {
        let policy = self.policies().function(&self.function).ok_or("function not in template")?;
        let bound = self.bindings.lock().expect("bindings").get(value).cloned();
        let vars: Vec<String> = match bound {
            Some(var) => vec![var],
            None => std::env::vars().filter(|(_, v)| v == value).map(|(k, _)| k).collect(),
        };
        vars.iter().find_map(|var| policy.env.get(var).cloned()).ok_or_else(|| {
            format!(
                "IAM: function `{}` ({}) uses {what} `{value}`, which none of its environment variables in \
                 infra/template.yaml configures (bound to {vars:?})",
                self.function, policy.logical_id
            )
        })
    }

    fn accesses(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        op: &str,
        service: &str,
    ) -> Result<Vec<Access>, String> {
        let input = ctx.input();
        let mut out = Vec::new();
        let access = |action: &str, resource: String, origin: String| Access {
            action: action.to_owned(),
            resource,
            context: BTreeMap::new(),
            origin,
        };
        match service {
            "DynamoDB" => {
                use aws_sdk_dynamodb::operation as o;
                let table = |name: &str| -> Result<String, String> {
                    let logical = self.resolve(name, "table")?;
                    Ok(format!("arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{logical}"))
                };
                let origin = |t: &str| format!("{op} on {t}");
                let action = format!("dynamodb:{op}");
                let mut one = |t: Option<&str>, index: Option<&str>, action: &str| -> Result<(), String> {
                    let t = t.ok_or_else(|| format!("{op} without a table name"))?;
                    let mut arn = table(t)?;
                    if let Some(i) = index {
                        arn = format!("{arn}/index/{i}");
                    }
                    out.push(access(action, arn, origin(t)));
                    Ok(())
                };
                if let Some(i) = input.downcast_ref::<o::get_item::GetItemInput>() {
                    one(i.table_name(), None, &action)?;
                } else if let Some(i) = input.downcast_ref::<o::put_item::PutItemInput>() {
                    one(i.table_name(), None, &action)?;
                } else if let Some(i) = input.downcast_ref::<o::update_item::UpdateItemInput>() {
                    one(i.table_name(), None, &action)?;
                } else if let Some(i) = input.downcast_ref::<o::delete_item::DeleteItemInput>() {
                    one(i.table_name(), None, &action)?;
                } else if let Some(i) = input.downcast_ref::<o::query::QueryInput>() {
                    one(i.table_name(), i.index_name(), &action)?;
                } else if let Some(i) = input.downcast_ref::<o::scan::ScanInput>() {
                    one(i.table_name(), i.index_name(), &action)?;
                } else if let Some(i) = input.downcast_ref::<o::batch_get_item::BatchGetItemInput>() {
                    for t in i.request_items().into_iter().flat_map(|m| m.keys()) {
                        one(Some(t), None, &action)?;
                    }
                } else if let Some(i) = input.downcast_ref::<o::batch_write_item::BatchWriteItemInput>() {
                    for t in i.request_items().into_iter().flat_map(|m| m.keys()) {
                        one(Some(t), None, &action)?;
                    }
                } else if let Some(i) = input.downcast_ref::<o::transact_write_items::TransactWriteItemsInput>() {
                    for item in i.transact_items() {
                        if let Some(p) = item.put() {
                            one(Some(p.table_name()), None, "dynamodb:PutItem")?;
                        }
                        if let Some(u) = item.update() {
                            one(Some(u.table_name()), None, "dynamodb:UpdateItem")?;
                        }
                        if let Some(d) = item.delete() {
                            one(Some(d.table_name()), None, "dynamodb:DeleteItem")?;
                        }
                        if let Some(c) = item.condition_check() {
                            one(Some(c.table_name()), None, "dynamodb:ConditionCheckItem")?;
                        }
                    }
                } else if let Some(i) = input.downcast_ref::<o::transact_get_items::TransactGetItemsInput>() {
                    for item in i.transact_items() {
                        if let Some(g) = item.get() {
                            one(Some(g.table_name()), None, "dynamodb:GetItem")?;
                        }
                    }
                } else if let Some(i) = input.downcast_ref::<o::describe_table::DescribeTableInput>() {
                    one(i.table_name(), None, &action)?;
                } else {
                    return Err(format!("IAM recorder: DynamoDB {op} is not mapped in tests/src/iam.rs"));
                }
            }
            "Secrets Manager" => {
                let i = input
                    .downcast_ref::<aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueInput>()
                    .ok_or_else(|| format!("IAM recorder: Secrets Manager {op} is not mapped in tests/src/iam.rs"))?;
                let id = i.secret_id().unwrap_or_default();
                out.push(access("secretsmanager:GetSecretValue", self.resolve(id, "secret")?, format!("{op} {id}")));
            }
            "S3" => {
                use aws_sdk_s3::operation as o;
                let object = |bucket: Option<&str>, key: Option<&str>| -> Result<String, String> {
                    let bucket = bucket.unwrap_or_default();
                    let logical = self.resolve(bucket, "bucket")?;
                    Ok(format!("arn:{PARTITION}:s3:::{logical}/{}", key.unwrap_or_default()))
                };
                if let Some(i) = input.downcast_ref::<o::put_object::PutObjectInput>() {
                    out.push(access("s3:PutObject", object(i.bucket(), i.key())?, format!("{op} {:?}", i.key())));
                } else if let Some(i) = input.downcast_ref::<o::get_object::GetObjectInput>() {
                    out.push(access("s3:GetObject", object(i.bucket(), i.key())?, format!("{op} {:?}", i.key())));
                } else if let Some(i) = input.downcast_ref::<o::head_object::HeadObjectInput>() {
                    out.push(access("s3:GetObject", object(i.bucket(), i.key())?, format!("{op} {:?}", i.key())));
                } else if let Some(i) = input.downcast_ref::<o::delete_object::DeleteObjectInput>() {
                    out.push(access("s3:DeleteObject", object(i.bucket(), i.key())?, format!("{op} {:?}", i.key())));
                } else {
                    return Err(format!("IAM recorder: S3 {op} is not mapped in tests/src/iam.rs"));
                }
            }
            "SESv2" => {
                let i = input
                    .downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>()
                    .ok_or_else(|| format!("IAM recorder: SES {op} is not mapped in tests/src/iam.rs"))?;
                let from = i.from_email_address().unwrap_or_default();
                let sender = self.resolve(from, "sender address")?;
                let mut a = access(
                    "ses:SendEmail",
                    format!("arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/{sender}"),
                    format!("{op} from {from}"),
                );
                a.context.insert("ses:FromAddress".into(), sender);
                out.push(a);
            }
            other => return Err(format!("IAM recorder: service {other} is not mapped in tests/src/iam.rs")),
        }
        Ok(out)
    }

    fn fail(&self, message: String) {
        match &self.collect {
            Some(list) => list.lock().expect("violations").push(message),
            None => panic!("{message}"),
        }
    }
}

impl Intercept for IamRecorder {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    fn read_before_serialization(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (op, service) = cfg
            .load::<Metadata>()
            .map(|m| (m.name().to_owned(), m.service().to_owned()))
            .unwrap_or_else(|| ("?".into(), "?".into()));
        let accesses = match self.accesses(ctx, &op, &service) {
            Ok(list) => list,
            Err(message) => {
                self.fail(message);
                return Ok(());
            }
        };
        for access in accesses {
            self.seen.lock().expect("seen").insert(access.clone());
            if self.collect.is_none() {
                note_observed(&self.function, &access);
            }
            if let Err(message) = self.policies().check(&self.function, &access) {
                self.fail(message);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("arn:aws:s3:::B/invoices/*", "arn:aws:s3:::B/invoices/2026/x.pdf"));
        assert!(!glob("arn:aws:s3:::B/invoices/*", "arn:aws:s3:::B/statements/x.pdf"));
        assert!(glob("dynamodb:*", "dynamodb:getitem"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("*", "") && !glob("", "x"));
    }
}

/// Cold starts build their own SDK clients from the environment (`AppState::from_env`), so no interceptor can
/// be attached: this proxy stands between them and Secrets Manager (moto) instead. Point
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` at [`SecretsProxy::url`], say which function cold-starts next with
/// [`SecretsProxy::as_function`], and [`SecretsProxy::take_violations`] lists the reads its policy does not
/// allow. The secret ids are resolved through the process environment (the variables the cold start read).
#[derive(Clone)]
pub struct SecretsProxy {
    url: String,
    state: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    function: Option<String>,
    seen: Vec<(String, Access)>,
    violations: Vec<String>,
}

impl SecretsProxy {
    /// A proxy in front of `upstream` (`http://host:port`), on 127.0.0.1.
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, state) = (upstream.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, state).await;
                });
            }
        });
        Self { url, state }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The function whose cold start sends the next requests.
    pub fn as_function(&self, function: &str) {
        assert!(template_policies().function(function).is_some(), "no function `{function}` in the template");
        self.state.lock().expect("proxy").function = Some(function.to_owned());
    }

    /// `(function, access)` of every request so far.
    pub fn seen(&self) -> Vec<(String, Access)> {
        self.state.lock().expect("proxy").seen.clone()
    }

    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().expect("proxy").violations)
    }

    fn record(state: &Mutex<ProxyState>, target: &str, body: &[u8]) {
        let mut st = state.lock().expect("proxy");
        let Some(function) = st.function.clone() else {
            st.violations.push(format!("Secrets Manager {target} before any function was named"));
            return;
        };
        let op = target.rsplit('.').next().unwrap_or(target);
        let id = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["SecretId"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let recorder = IamRecorder::new(&function);
        let resource = match recorder.resolve(&id, "secret") {
            Ok(r) => r,
            Err(e) => {
                st.violations.push(e);
                return;
            }
        };
        let access = Access {
            action: format!("secretsmanager:{op}"),
            resource,
            context: BTreeMap::new(),
            origin: format!("{op} {id} at cold start"),
        };
        note_observed(&function, &access);
        if let Err(e) = template_policies().check(&function, &access) {
            st.violations.push(e);
        }
        st.seen.push((function, access));
    }
}

/// Pipes one client connection to the upstream, reading each request whole (headers and a `Content-Length`
/// body, as the SDK sends them) to record it on the way.
async fn relay(client: tokio::net::TcpStream, upstream: &str, state: Arc<Mutex<ProxyState>>) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = tokio::net::TcpStream::connect(upstream).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let back = tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
            let n = client_read.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while buf.len() < end + length {
            let n = client_read.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        SecretsProxy::record(&state, &header("x-amz-target").unwrap_or_default(), &buf[end..end + length]);
        server_write.write_all(&buf[..end + length]).await?;
        buf.drain(..end + length);
    }
    let _ = server_write.shutdown().await;
    let _ = back.await;
    Ok(())
}
