//! Contract tests: keep the deployment (`infra/template.yaml`), the API documentation
//! (`infra/openapi.yaml`), the routers of the function crates and the sample events
//! (`events/<binary>/*.json`) in step. No AWS, no network: these only read files.
//!
//! `serde_yaml` parses CloudFormation short-form intrinsics (`!Ref Table`, `!Sub ...`) as
//! tagged values; every lookup below goes through [`untag`] so they are tolerated anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use shared::platform::http::route_pairs;

/// (METHOD uppercase, path template such as `/api/usage/{customer_id}`).
type Route = (String, String);

/// Placeholders that the event harness substitutes before invoking a handler.
/// Keep in step with the harness in `tests/src`; an unknown name here is almost always a typo
/// that would otherwise reach the handler verbatim.
const KNOWN_PLACEHOLDERS: &[&str] = &[
    "ORG_ID",
    "MEMBER_USER_ID",
    "INVITATION_ID",
    "INVITED_ID",
    "EMAIL",
    "NEW_EMAIL",
    "PASSWORD",
    "ACCESS_TOKEN",
    "ADMIN_ACCESS_TOKEN",
    "USER_ID",
    "SOLUTION_ID",
    "SOLUTION_TOKEN",
    "STRIPE_SIGNATURE",
    "PHONEPE_AUTHORIZATION",
    "TOKEN_ID",
    "REFRESH_TOKEN",
    "ANONYMOUS_ID",
    "PARTNER_ACCESS_TOKEN",
    "PARTNER_ID",
    "DRAFT_SOLUTION_ID",
    "VERIFICATION_TOKEN",
    "USED_VERIFICATION_TOKEN",
    "UNVERIFIED_ACCESS_TOKEN",
];

/// The router of every HTTP function crate: (binary, the (method, path) pairs of its `ROUTES`). A function with
/// `HttpApi` events in the template must appear here (a test checks), so a new function cannot slip past check (b).
type Router = fn() -> Vec<(&'static str, &'static str)>;
const ROUTERS: &[(&str, Router)] = &[
    ("auth", || route_pairs(auth::ROUTES)),
    ("usage", || route_pairs(usage::ROUTES)),
    ("subscriptions", || route_pairs(subscriptions::ROUTES)),
    ("stripe-webhook", || route_pairs(stripe_webhook::ROUTES)),
    ("phonepe-webhook", || route_pairs(phonepe_webhook::ROUTES)),
    ("partners", || route_pairs(partners::ROUTES)),
    ("marketplace", || route_pairs(marketplace::ROUTES)),
];

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent directory").to_path_buf()
}

fn load_yaml(relative: &str) -> Value {
    let path = repo_root().join(relative);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Strips any number of YAML tags (`!Ref`, `!Sub`, ...) from a value.
fn untag(mut value: &Value) -> &Value {
    while let Value::Tagged(tagged) = value {
        value = &tagged.value;
    }
    value
}

/// `value[key]`, tolerating tags on the container and on the result.
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    untag(value).get(key).map(untag)
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    field(value, key).and_then(Value::as_str)
}

/// Does the value (anywhere inside) use an intrinsic function, short (`!Ref`) or long (`Ref:`)?
fn has_intrinsic(value: &Value) -> bool {
    match value {
        Value::Tagged(_) => true,
        Value::Mapping(map) => {
            map.iter().any(|(k, v)| k.as_str().is_some_and(|k| k == "Ref" || k.starts_with("Fn::")) || has_intrinsic(v))
        }
        Value::Sequence(items) => items.iter().any(has_intrinsic),
        _ => false,
    }
}

/// Is `value` a reference to the logical id `target`, as `!Ref target` or `{Ref: target}`?
fn is_ref_to(value: &Value, target: &str) -> bool {
    match value {
        Value::Tagged(tagged) => tagged.tag == "Ref" && untag(&tagged.value).as_str() == Some(target),
        Value::Mapping(map) => map.len() == 1 && map.get("Ref").and_then(Value::as_str) == Some(target),
        _ => false,
    }
}

#[derive(Debug)]
struct HttpEvent {
    name: String,
    api_id: Option<Value>,
    route: Option<Route>,
}

#[derive(Debug)]
struct Function {
    logical_id: String,
    build_method: Option<String>,
    binary: Option<String>,
    http_events: Vec<HttpEvent>,
}

impl Function {
    fn routes(&self) -> BTreeSet<Route> {
        self.http_events.iter().filter_map(|e| e.route.clone()).collect()
    }
}

fn template() -> Value {
    load_yaml("infra/template.yaml")
}

fn resources(template: &Value) -> Vec<(String, &Value)> {
    let resources = field(template, "Resources").and_then(Value::as_mapping).expect("template has a Resources mapping");
    resources
        .iter()
        .map(|(id, resource)| (id.as_str().expect("logical ids are strings").to_owned(), untag(resource)))
        .collect()
}

fn functions(template: &Value) -> Vec<Function> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| str_field(r, "Type") == Some("AWS::Serverless::Function"))
        .map(|(logical_id, resource)| {
            let metadata = field(resource, "Metadata");
            let build_method = metadata.and_then(|m| str_field(m, "BuildMethod")).map(str::to_owned);
            let binary = metadata
                .and_then(|m| field(m, "BuildProperties"))
                .and_then(|p| str_field(p, "Binary"))
                .map(str::to_owned);
            let events = field(resource, "Properties").and_then(|p| field(p, "Events")).and_then(Value::as_mapping);
            let http_events = events
                .into_iter()
                .flatten()
                .filter(|(_, e)| str_field(e, "Type") == Some("HttpApi"))
                .map(|(name, e)| {
                    let props = field(e, "Properties");
                    let method = props.and_then(|p| str_field(p, "Method"));
                    let path = props.and_then(|p| str_field(p, "Path"));
                    HttpEvent {
                        name: name.as_str().unwrap_or("?").to_owned(),
                        api_id: props.and_then(|p| untag(p).get("ApiId")).cloned(),
                        route: method.zip(path).map(|(m, p)| (m.to_ascii_uppercase(), p.to_owned())),
                    }
                })
                .collect();
            Function { logical_id, build_method, binary, http_events }
        })
        .collect()
}

fn openapi_operations() -> BTreeSet<Route> {
    let doc = load_yaml("infra/openapi.yaml");
    let paths = field(&doc, "paths").and_then(Value::as_mapping).expect("openapi.yaml has a paths mapping");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        let item = untag(item).as_mapping().unwrap_or_else(|| panic!("openapi path {path} is a mapping"));
        for (key, _) in item {
            let key = key.as_str().unwrap_or_default();
            if HTTP_METHODS.contains(&key) {
                operations.insert((key.to_ascii_uppercase(), path.to_owned()));
            }
        }
    }
    operations
}

fn fmt_routes<'a>(routes: impl IntoIterator<Item = &'a Route>) -> String {
    let lines: Vec<String> = routes.into_iter().map(|(m, p)| format!("    {m} {p}")).collect();
    if lines.is_empty() { "    (none)".to_owned() } else { lines.join("\n") }
}

/// Does a concrete path (`/api/usage/cus_1`) match a template (`/api/usage/{customer_id}`)?
/// `{name}` matches one non-empty segment, `{name+}` the (non-empty) rest of the path.
fn path_matches(template: &str, path: &str) -> bool {
    path_params(template, path).is_some()
}

/// The path parameters of a concrete path under a template (`{customer_id}` → `cus_1`), as API
/// Gateway would pass them in `pathParameters`; `None` when the path does not match.
fn path_params(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let mut want = template.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with("+}") => {
                let rest: Vec<&str> = std::iter::once(h).chain(have).collect();
                let rest = rest.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(w[1..w.len() - 2].to_owned(), rest);
                return Some(params);
            }
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') => {
                if h.is_empty() {
                    return None;
                }
                params.insert(w[1..w.len() - 1].to_owned(), h.to_owned());
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

/// Replaces every `{{NAME}}` by a harmless value; returns the names seen.
fn substitute_placeholders(text: &str) -> (String, BTreeSet<String>) {
    let mut out = String::with_capacity(text.len());
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                names.insert(name.to_owned());
                out.push_str("placeholder-");
                out.push_str(&name.to_ascii_lowercase().replace('_', "-"));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, names)
}

// ---------------------------------------------------------------------------------------------
// (a) template routes == OpenAPI operations
// ---------------------------------------------------------------------------------------------

#[test]
fn template_routes_equal_openapi_operations() {
    let functions = functions(&template());
    let mut owners: BTreeMap<Route, Vec<String>> = BTreeMap::new();
    for function in &functions {
        for event in &function.http_events {
            let route = event.route.clone().unwrap_or_else(|| {
                panic!(
                    "{}.Events.{}: HttpApi event without Method and Path (catch-all routes are not allowed)",
                    function.logical_id, event.name
                )
            });
            owners.entry(route).or_default().push(format!("{}.{}", function.logical_id, event.name));
        }
    }
    let duplicated: Vec<String> = owners
        .iter()
        .filter(|(_, events)| events.len() > 1)
        .map(|((m, p), events)| format!("    {m} {p}: {}", events.join(", ")))
        .collect();
    assert!(duplicated.is_empty(), "routes declared more than once in infra/template.yaml:\n{}", duplicated.join("\n"));

    let in_template: BTreeSet<Route> = owners.into_keys().collect();
    let in_openapi = openapi_operations();
    assert!(!in_template.is_empty(), "infra/template.yaml declares no HttpApi routes");
    assert!(
        in_template == in_openapi,
        "infra/template.yaml and infra/openapi.yaml disagree.\n  in the template, missing from OpenAPI:\n{}\n  in OpenAPI, missing from the template:\n{}",
        fmt_routes(in_template.difference(&in_openapi)),
        fmt_routes(in_openapi.difference(&in_template)),
    );
}

// ---------------------------------------------------------------------------------------------
// (b) the routes of each function in the template == its router
// ---------------------------------------------------------------------------------------------

/// Compares one function's routes in the template with its router; returns the disagreement.
fn function_routes_problem(functions: &[Function], binary: &str, router: &[(&str, &str)]) -> Option<String> {
    let Some(function) = functions.iter().find(|f| f.binary.as_deref() == Some(binary)) else {
        return Some(format!("no function in infra/template.yaml has BuildProperties.Binary = {binary}"));
    };
    let in_template = function.routes();
    let in_router: BTreeSet<Route> = router.iter().map(|(m, p)| (m.to_ascii_uppercase(), (*p).to_owned())).collect();
    if router.len() != in_router.len() {
        return Some(format!("{binary}::ROUTES lists a route twice"));
    }
    (in_template != in_router).then(|| {
        format!(
            "{} in infra/template.yaml and {binary}::ROUTES disagree.\n  in the template, missing from the router:\n{}\n  in the router, missing from the template:\n{}",
            function.logical_id,
            fmt_routes(in_template.difference(&in_router)),
            fmt_routes(in_router.difference(&in_template)),
        )
    })
}

#[test]
fn function_routes_equal_their_routers() {
    let functions = functions(&template());
    let mut problems: Vec<String> =
        ROUTERS.iter().filter_map(|(binary, router)| function_routes_problem(&functions, binary, &router())).collect();
    for function in functions.iter().filter(|f| !f.http_events.is_empty()) {
        let binary = function.binary.as_deref().unwrap_or("?");
        if !ROUTERS.iter().any(|(b, _)| *b == binary) {
            problems.push(format!(
                "{} (binary `{binary}`) has HttpApi routes but no entry in ROUTERS of tests/tests/contract.rs",
                function.logical_id
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// (c) every HTTP function is a cargo-lambda build of a named binary, wired to the one API
// ---------------------------------------------------------------------------------------------

#[test]
fn http_functions_are_cargo_lambda_binaries_on_the_api() {
    let functions = functions(&template());
    let mut problems = Vec::new();
    let mut binaries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for function in &functions {
        if let Some(binary) = &function.binary {
            binaries.entry(binary.clone()).or_default().push(function.logical_id.clone());
            if binary == "bootstrap" {
                problems.push(format!("{}: binary must have a unique name, not `bootstrap`", function.logical_id));
            }
        }
        if function.http_events.is_empty() {
            continue;
        }
        if function.build_method.as_deref() != Some("rust-cargolambda") {
            problems.push(format!(
                "{}: Metadata.BuildMethod is {:?}, expected rust-cargolambda",
                function.logical_id, function.build_method
            ));
        }
        if function.binary.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{}: Metadata.BuildProperties.Binary is missing", function.logical_id));
        }
        for event in &function.http_events {
            if !event.api_id.as_ref().is_some_and(|id| is_ref_to(id, "Api")) {
                problems.push(format!(
                    "{}.Events.{}: ApiId must be `!Ref Api` (an implicit API would bypass its settings)",
                    function.logical_id, event.name
                ));
            }
        }
    }
    for (binary, ids) in &binaries {
        if ids.len() > 1 {
            problems.push(format!("binary {binary} is built by several functions: {}", ids.join(", ")));
        }
    }
    assert!(
        functions.iter().any(|f| !f.http_events.is_empty()),
        "infra/template.yaml has no function with HttpApi events"
    );
    assert!(problems.is_empty(), "infra/template.yaml:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// The table definition that the local stack and the tests copy must be literal
// ---------------------------------------------------------------------------------------------

#[test]
fn table_schema_is_literal() {
    let template = template();
    let table = resources(&template)
        .into_iter()
        .find(|(id, _)| id == "Table")
        .map(|(_, t)| t)
        .expect("infra/template.yaml has a resource `Table`");
    assert_eq!(str_field(table, "Type"), Some("AWS::DynamoDB::Table"));
    let props = field(table, "Properties").expect("Table has Properties");
    for key in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "TimeToLiveSpecification", "BillingMode"]
    {
        let value = untag(props).get(key).unwrap_or_else(|| panic!("Table.Properties.{key} is missing"));
        assert!(!has_intrinsic(value), "Table.Properties.{key} must be literal (no intrinsic functions)");
    }
}

// ---------------------------------------------------------------------------------------------
// (d) sample events target real routes of their function
// ---------------------------------------------------------------------------------------------

fn json_str<'a>(value: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(serde_json::Value::as_str)
}

/// Checks one API Gateway HTTP API (payload v2.0) event; returns the problems found.
/// Returns the route the event targets when it is one of `own_routes`.
fn check_http_event(
    file: &Path,
    own_routes: &BTreeSet<Route>,
    all_routes: &BTreeSet<Route>,
    problems: &mut Vec<String>,
) -> Option<Route> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
    let stem = name.trim_end_matches(".json");
    let root = repo_root();
    let shown = file.strip_prefix(&root).unwrap_or(file).display().to_string();
    let mut problem = |msg: String| problems.push(format!("{shown}: {msg}"));

    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            problem(format!("unreadable: {e}"));
            return None;
        }
    };
    let event: serde_json::Value = match serde_json::from_str(&text) {
        Ok(event) => event,
        Err(e) => {
            problem(format!("not JSON: {e}"));
            return None;
        }
    };

    // The expected status is part of the name: `<route-slug>-<status>[-<case>].json`.
    let status = stem.split('-').find(|part| part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit()));
    match status.map(|s| s.parse::<u16>().unwrap_or(0)) {
        Some(100..=599) => {}
        _ => problem("file name has no expected status (`<route-slug>-<status>[-<case>].json`)".into()),
    }

    if json_str(&event, "/version") != Some("2.0") {
        problem("`version` must be \"2.0\" (API Gateway HTTP API payload v2)".into());
    }
    let route_key = json_str(&event, "/routeKey").unwrap_or_default();
    let raw_path = json_str(&event, "/rawPath").unwrap_or_default();
    let method = json_str(&event, "/requestContext/http/method").unwrap_or_default();
    if json_str(&event, "/requestContext/routeKey") != Some(route_key) {
        problem("requestContext.routeKey differs from routeKey".into());
    }
    if json_str(&event, "/requestContext/http/path") != Some(raw_path) {
        problem("requestContext.http.path differs from rawPath".into());
    }
    if json_str(&event, "/requestContext/stage") != Some("$default") {
        problem("requestContext.stage must be \"$default\"".into());
    }
    if event.pointer("/rawQueryString").and_then(serde_json::Value::as_str).is_none() {
        problem("rawQueryString is missing".into());
    }
    if !event.pointer("/isBase64Encoded").is_some_and(serde_json::Value::is_boolean) {
        problem("isBase64Encoded is missing".into());
    }
    let headers = event.pointer("/headers").and_then(serde_json::Value::as_object);
    match headers {
        None => problem("headers is missing".into()),
        Some(headers) => {
            if let Some(h) = headers.keys().find(|h| h.chars().any(|c| c.is_ascii_uppercase())) {
                problem(format!("header names are lowercase in payload v2 (found `{h}`)"));
            }
        }
    }

    let mut target = None;
    if stem.starts_with("unknown-route-") {
        // API Gateway would not route it; the function's own router must answer 404.
        if all_routes.iter().any(|(m, p)| m == method && path_matches(p, raw_path)) {
            problem(format!("`{method} {raw_path}` is a declared route, not an unknown one"));
        }
    } else {
        match route_key.split_once(' ') {
            Some((m, p)) if own_routes.contains(&(m.to_owned(), p.to_owned())) => {
                target = Some((m.to_owned(), p.to_owned()));
                if method != m {
                    problem(format!("requestContext.http.method {method} differs from routeKey {route_key}"));
                }
                match path_params(p, raw_path) {
                    None => problem(format!("rawPath {raw_path} does not match routeKey {route_key}")),
                    Some(expected) => {
                        // API Gateway passes the template's parameters; a handler may read them.
                        let given: Option<BTreeMap<String, String>> = match event.pointer("/pathParameters") {
                            None | Some(serde_json::Value::Null) => None,
                            Some(value) => serde_json::from_value(value.clone()).ok(),
                        };
                        let given = given.unwrap_or_default();
                        if given != expected {
                            problem(format!(
                                "pathParameters {given:?} differ from the ones of rawPath under routeKey {route_key}: {expected:?}"
                            ));
                        }
                    }
                }
            }
            _ => problem(format!(
                "routeKey `{route_key}` is not a route of this function; its routes are:\n{}",
                fmt_routes(own_routes)
            )),
        }
    }

    // Placeholders must be ones the harness knows.
    let (substituted, placeholders) = substitute_placeholders(&text);
    for unknown in placeholders.iter().filter(|p| !KNOWN_PLACEHOLDERS.contains(&p.as_str())) {
        problem(format!("unknown placeholder {{{{{unknown}}}}} (known: {})", KNOWN_PLACEHOLDERS.join(", ")));
    }

    // The body is JSON (unless the case is about malformed JSON) and declared as such.
    let substituted: serde_json::Value = match serde_json::from_str(&substituted) {
        Ok(v) => v,
        Err(e) => {
            problem(format!("not JSON after substituting placeholders: {e}"));
            return target;
        }
    };
    let base64 = substituted.pointer("/isBase64Encoded").and_then(serde_json::Value::as_bool).unwrap_or(false);
    if let Some(body) = json_str(&substituted, "/body") {
        let content_type = headers.and_then(|h| h.get("content-type")).and_then(serde_json::Value::as_str);
        if !base64 && content_type.is_some_and(|ct| ct.starts_with("application/json")) {
            let parses = serde_json::from_str::<serde_json::Value>(body).is_ok();
            if parses == stem.contains("malformed-json") {
                problem(if parses {
                    "body is valid JSON but the case is malformed-json".into()
                } else {
                    "body is not valid JSON".into()
                });
            }
        } else if !base64 && content_type.is_none() {
            problem("a body without a content-type header".into());
        }
    }

    // lambda_http turns it into the request the handler will see (placeholders substituted).
    let raw_path = json_str(&substituted, "/rawPath").unwrap_or_default();
    match lambda_http::request::from_str(&substituted.to_string()) {
        Err(e) => problem(format!("lambda_http cannot read it: {e}")),
        Ok(request) => {
            if request.method().as_str() != method {
                problem(format!("lambda_http sees method {} instead of {method}", request.method()));
            }
            if request.uri().path() != raw_path {
                problem(format!("lambda_http sees path {} instead of {raw_path}", request.uri().path()));
            }
        }
    }
    target
}

#[test]
fn sample_events_target_routes_of_their_function() {
    let functions = functions(&template());
    let all_routes: BTreeSet<Route> = functions.iter().flat_map(Function::routes).collect();
    let events_dir = repo_root().join("events");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&events_dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", events_dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();

    let mut problems = Vec::new();
    let mut checked = 0;
    // Every route of every HTTP function needs at least one sample event.
    let mut uncovered: BTreeMap<String, BTreeSet<Route>> = functions
        .iter()
        .filter(|f| !f.http_events.is_empty())
        .map(|f| (f.binary.clone().unwrap_or_default(), f.routes()))
        .collect();
    for dir in &dirs {
        let binary = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(function) = functions.iter().find(|f| f.binary.as_deref() == Some(binary)) else {
            problems.push(format!("events/{binary}: no function in infra/template.yaml builds binary `{binary}`"));
            continue;
        };
        let own_routes = function.routes();
        if own_routes.is_empty() {
            // Not an HTTP function (e.g. `billing` takes EventBridge Scheduler events).
            continue;
        }
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| entry.expect("readable directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        for file in &files {
            if let Some(route) = check_http_event(file, &own_routes, &all_routes, &mut problems)
                && let Some(routes) = uncovered.get_mut(binary)
            {
                routes.remove(&route);
            }
            checked += 1;
        }
    }
    for (binary, routes) in uncovered.iter().filter(|(_, r)| !r.is_empty()) {
        problems.push(format!("events/{binary}: no sample event for\n{}", fmt_routes(routes)));
    }
    assert!(checked > 0, "no sample events found under {}", events_dir.display());
    assert!(problems.is_empty(), "{} problem(s) in sample events:\n{}", problems.len(), problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Helpers of the helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn path_matching_treats_parameters_as_one_segment() {
    assert!(path_matches("/api/auth/register", "/api/auth/register"));
    assert!(path_matches("/api/usage/{customer_id}", "/api/usage/cus_1"));
    assert!(path_matches("/api/quotas/{customer_id}/{solution_id}", "/api/quotas/c/s"));
    assert!(path_matches("/files/{key+}", "/files/a/b/c"));
    assert!(!path_matches("/api/usage/{customer_id}", "/api/usage/"));
    assert!(!path_matches("/api/usage/{customer_id}", "/api/usage/a/b"));
    assert!(!path_matches("/api/usage/{customer_id}", "/api/usage"));
    assert!(!path_matches("/api/auth/register", "/api/auth/login"));
}

#[test]
fn path_parameters_are_taken_from_the_path() {
    let params = |t, p| path_params(t, p).map(|m| m.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>());
    assert_eq!(params("/api/auth/login", "/api/auth/login"), Some(vec![]));
    assert_eq!(
        params("/api/quotas/{customer_id}/{solution_id}", "/api/quotas/c/s"),
        Some(vec!["customer_id=c".to_owned(), "solution_id=s".to_owned()])
    );
    assert_eq!(params("/files/{key+}", "/files/a/b"), Some(vec!["key=a/b".to_owned()]));
    assert_eq!(params("/api/usage/{customer_id}", "/api/usage/"), None);
}

#[test]
fn placeholder_substitution_finds_every_name() {
    let (text, names) = substitute_placeholders(r#"{"a":"{{EMAIL}}","b":"Bearer {{ACCESS_TOKEN}}","c":"{{"}"#);
    assert_eq!(text, r#"{"a":"placeholder-email","b":"Bearer placeholder-access-token","c":"{{"}"#);
    assert_eq!(names, BTreeSet::from(["EMAIL".to_owned(), "ACCESS_TOKEN".to_owned()]));
}

/// The README's retention table is the store's retention policy, row for row.
#[test]
fn the_readme_states_the_retention_of_every_kind() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let table = shared::store::retention::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's \"Retention\" table differs from shared::store::retention::markdown_table(); it is:\n{table}"
    );
}

/// The README tells operators which events to enable on the Stripe webhook endpoint: exactly the ones the
/// webhook handles (and the reconciliation lists).
#[test]
fn the_readme_names_the_stripe_events_the_webhook_handles() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let start = readme.find("point a Stripe webhook endpoint at").expect("the webhook endpoint paragraph");
    let paragraph = &readme[start..start + readme[start..].find("\n\n").unwrap_or(readme.len() - start)];
    let named: BTreeSet<&str> = paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('.') && !s.contains('/') && !s.contains(' '))
        .collect();
    let handled: BTreeSet<&str> = shared::payments::stripe::events::HANDLED.into_iter().collect();
    assert_eq!(named, handled);
}

/// The API description's `ProblemCode` lists exactly the codes the handlers answer with (`platform::error::codes`),
/// and every problem example in it uses one of them: clients type their errors from it.
#[test]
fn the_problem_codes_of_the_description_are_the_codes_of_the_code() {
    let source = std::fs::read_to_string(repo_root().join("shared/src/platform/error.rs")).expect("error.rs");
    let coded: BTreeSet<String> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const ")?.split_once(": &str = \""))
        .map(|(_, rest)| rest.trim_end_matches("\";").to_owned())
        .collect();
    assert!(coded.len() > 50, "codes read from error.rs: {coded:?}");
    let spec = load_yaml("infra/openapi.yaml");
    let listed: BTreeSet<String> = spec["components"]["schemas"]["ProblemCode"]["enum"]
        .as_sequence()
        .expect("ProblemCode enum")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, coded, "ProblemCode (infra/openapi.yaml) vs shared/src/platform/error.rs codes");
    let text = std::fs::read_to_string(repo_root().join("infra/openapi.yaml")).expect("openapi.yaml");
    let unknown: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("code: "))
        .map(|code| code.trim_start_matches("{const: ").trim_end_matches('}'))
        .filter(|code| !code.starts_with('$') && !listed.contains(*code))
        .collect();
    assert!(unknown.is_empty(), "problem examples with codes outside ProblemCode: {unknown:?}");
}

/// The API description's `AuditKind` lists exactly the kinds the code records (`shared::audit::AuditKind`), in
/// the same order: the `kind` filter of `GET /api/admin/audit` is typed from it.
#[test]
fn the_audit_kinds_of_the_description_are_the_kinds_of_the_code() {
    let spec = load_yaml("infra/openapi.yaml");
    let listed: Vec<&str> = spec["components"]["schemas"]["AuditKind"]["enum"]
        .as_sequence()
        .expect("AuditKind enum")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let coded: Vec<&str> = shared::audit::AuditKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, coded, "AuditKind (infra/openapi.yaml) vs shared::audit::AuditKind");
}
