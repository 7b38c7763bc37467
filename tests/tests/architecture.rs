//! The shape of `shared/src` (see `shared/README.md`): which module uses which (every `crate::…` and `super::…`
//! path in a file's non-test code). Three rules hold:
//! - no import cycle between any two modules (files), however deep;
//! - capabilities (the top-level modules) depend one way, along [`LAYERS`]: an edge against it fails (so no
//!   cycle between capabilities either);
//! - only `store/` holds DynamoDB expressions, key prefixes and key attribute names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `shared/src/a/b.rs` → `a::b`; `a/mod.rs` → `a`; `lib.rs` → `` (the crate root).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_owned();
    }
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read shared/src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its unit tests (`#[cfg(test)] mod tests { … }` ends the file here) and without
/// comments (docs name paths they do not use).
fn code_only(text: &str) -> String {
    let code = text.find("#[cfg(test)]\nmod tests").map_or(text, |at| &text[..at]);
    code.lines().map(|l| l.find("//").map_or(l, |at| &l[..at])).collect::<Vec<_>>().join("\n")
}

/// The module paths a file names: `crate::a::b::C` and `super::x::Y` (with `use` groups flattened well enough:
/// the first segments of each path are what matter).
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let parent: Vec<String> = {
        let mut p: Vec<String> = module.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
        p.pop();
        p
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| ident(c) || c == ':') {
                continue;
            }
            let mut path = base.clone();
            let mut tail = rest;
            loop {
                let end = tail.find(|c: char| !ident(c)).unwrap_or(tail.len());
                if end == 0 {
                    break;
                }
                path.push(tail[..end].to_owned());
                tail = &tail[end..];
                match tail.strip_prefix("::") {
                    Some(t) => tail = t,
                    None => break,
                }
            }
            // `use crate::a::{b, c::d}`: each member of a group is a path of its own.
            if let Some(group) = tail.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for member in inner.split(',') {
                    let mut p = path.clone();
                    p.extend(member.trim().split("::").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
                    out.push(p);
                }
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        if let Some(ws) = t.edges.get(v) {
            for w in ws {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(lw));
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(iw));
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                t.out.push(component);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

/// Which module uses which, inside `shared/src`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = integration_tests::workspace_root().join("shared/src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let mut code = BTreeMap::new();
    for path in &paths {
        let rel = path.strip_prefix(&src).expect("under shared/src");
        let text = std::fs::read_to_string(path).expect("read");
        code.insert(module_of(rel), code_only(&text));
    }
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &code {
        let uses = edges.entry(module.clone()).or_default();
        for path in named_paths(module, text) {
            // The longest module the path names (an item path ends in a type or function).
            let target =
                (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|candidate| modules.contains(candidate));
            if let Some(target) = target
                && &target != module
                && !module.starts_with(&format!("{target}::"))
            {
                uses.insert(target);
            }
        }
    }
    edges
}

/// Each capability and the capabilities it may use (besides itself). The direction of the architecture:
/// `platform → model, money, gst → store → identity → audit → usage, auth`; `store → ledger → billing → payments`;
/// `partners`, `marketplace` and `notifications` on top; `setup` (cold-start wiring) above everything.
const LAYERS: &[(&str, &[&str])] = &[
    ("platform", &[]),
    ("model", &["platform"]),
    ("money", &["platform"]),
    ("gst", &["platform", "money"]),
    ("store", &["platform", "model", "money", "gst"]),
    ("identity", &["platform", "model", "store"]),
    ("audit", &["platform", "model", "store", "identity"]),
    ("usage", &["platform", "model", "money", "store", "identity", "audit"]),
    ("auth", &["platform", "model", "store", "identity", "audit", "usage"]),
    ("ledger", &["platform", "model", "money", "gst", "store"]),
    ("billing", &["platform", "model", "money", "gst", "store", "identity", "audit", "auth", "usage", "ledger"]),
    (
        "payments",
        &["platform", "model", "money", "gst", "store", "identity", "audit", "auth", "usage", "ledger", "billing"],
    ),
    (
        "partners",
        &[
            "platform", "model", "money", "gst", "store", "identity", "audit", "auth", "usage", "ledger", "billing",
            "payments",
        ],
    ),
    (
        "marketplace",
        &[
            "platform", "model", "money", "gst", "store", "identity", "audit", "auth", "usage", "ledger", "billing",
            "payments", "partners",
        ],
    ),
    ("notifications", &["platform", "model", "money", "gst", "store", "identity", "auth"]),
    // Data rights (export, erasure): reads and writes every family through the store, records audit events.
    ("privacy", &["platform", "model", "money", "gst", "store", "identity", "audit"]),
    (
        "setup",
        &[
            "platform",
            "model",
            "money",
            "gst",
            "store",
            "identity",
            "audit",
            "auth",
            "usage",
            "ledger",
            "billing",
            "payments",
            "partners",
            "marketplace",
            "notifications",
            "privacy",
        ],
    ),
];

fn capability(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Capability edges against [`LAYERS`] (`from -> to`, with the modules that make each).
fn edges_against_layers(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in edges {
        let (a, allowed) = match layers.get(capability(from)) {
            Some(allowed) => (capability(from), *allowed),
            // The crate root (`lib.rs`) only declares modules.
            None if from.is_empty() => continue,
            None => {
                panic!("module `{from}` belongs to no capability of LAYERS: add it there (and to shared/README.md)")
            }
        };
        for to in tos {
            let b = capability(to);
            if b != a && !allowed.contains(&b) {
                out.entry(format!("{a} -> {b}")).or_default().insert(format!("{from} -> {to}"));
            }
        }
    }
    out
}

#[test]
fn no_module_of_shared_is_in_an_import_cycle() {
    let found = cycles(&dependencies());
    let show = found.iter().map(|s| s.iter().cloned().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n");
    assert!(found.is_empty(), "import cycles in shared/src (break them: move the shared type down a layer):\n{show}");
}

#[test]
fn capabilities_depend_one_way() {
    let against = edges_against_layers(&dependencies());
    let shown: Vec<String> = against
        .iter()
        .map(|(edge, by)| format!("{edge}: {}", by.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    assert!(
        shown.is_empty(),
        "capability edges against the layers of shared/src (see LAYERS and shared/README.md; move the shared \
         type down, or invert the call with a trait the lower capability owns, as billing::rail does):\n{}",
        shown.join("\n")
    );
}

/// What only the store may write: DynamoDB condition/update/key expressions, key prefixes, key attributes, and
/// the `entity_type` of an item.
const STORE_ONLY: &[&str] = &[
    "attribute_exists(",
    "attribute_not_exists(",
    "\"SET ",
    "\"ADD ",
    "\"REMOVE ",
    "\"DELETE ",
    "if_not_exists(",
    "begins_with(",
    "\"PK\"",
    "\"SK\"",
    "\"GSI1PK\"",
    "\"GSI1SK\"",
    "\"GSI2PK\"",
    "\"GSI2SK\"",
    "\"GSI3PK\"",
    "\"GSI3SK\"",
    "\"GSI4PK\"",
    "\"GSI4SK\"",
    "#pk",
    ":pk",
    // An item's discriminator is set by its constructor in the store.
    "entity_type: \"",
];

/// A quoted key prefix such as `"USER#"` or `"DAY#"` (capitals, digits or `_`, then `#`).
fn key_prefix_literal(code: &str) -> Option<String> {
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices('"') {
        let rest = &bytes[i + 1..];
        let n = rest.iter().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_').count();
        if n >= 2 && rest.get(n) == Some(&b'#') {
            return Some(String::from_utf8_lossy(&rest[..=n]).into_owned());
        }
    }
    None
}

#[test]
fn only_the_store_writes_dynamodb_expressions_and_keys() {
    let src = integration_tests::workspace_root().join("shared/src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let mut found = Vec::new();
    for path in &paths {
        let rel = path.strip_prefix(&src).expect("under shared/src");
        if rel.starts_with("store") {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(path).expect("read"));
        for (n, line) in code.lines().enumerate() {
            let hit = STORE_ONLY
                .iter()
                .find(|p| line.contains(*p))
                .map(|p| (*p).to_owned())
                .or_else(|| key_prefix_literal(line));
            if let Some(what) = hit {
                found.push(format!("{}:{}: {what}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "DynamoDB expressions or keys outside shared/src/store (give the store a named operation):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_sees_through_use_groups_and_relative_paths() {
    let code = "use crate::store::{keys, items::SubscriptionItem};\nuse super::phonepe::Rail;\nlet x = crate::platform::ids::new();";
    let paths = named_paths("subscriptions::service", code);
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert!(joined.contains(&"store::keys".to_owned()), "{joined:?}");
    assert!(joined.contains(&"store::items::SubscriptionItem".to_owned()), "{joined:?}");
    assert!(joined.contains(&"subscriptions::phonepe::Rail".to_owned()), "{joined:?}");
    assert!(joined.contains(&"platform::ids::new".to_owned()), "{joined:?}");
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    edges.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&edges), vec![BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()])]);
    assert_eq!(module_of(Path::new("subscriptions/mod.rs")), "subscriptions");
    assert_eq!(module_of(Path::new("store/keys.rs")), "store::keys");
    assert_eq!(key_prefix_literal(r#"let sk = "DAY#2026-01-01";"#).as_deref(), Some("DAY#"));
    assert_eq!(key_prefix_literal(r#"format!("{a}#{b}")"#), None);
    let mut deps = BTreeMap::new();
    deps.insert("store::items".to_owned(), BTreeSet::from(["billing::service".to_owned(), "model".to_owned()]));
    let against = edges_against_layers(&deps);
    assert_eq!(against.keys().cloned().collect::<Vec<_>>(), vec!["store -> billing".to_owned()]);
}

/// The `entity_type` values the store's code writes: `entity_type: "…"` in an item's constructor, the value
/// bound to `:et` / `:type` in an update that sets `entity_type`, and idempotency records' `Self::of(key, "…"`.
fn written_kinds(code: &str) -> BTreeSet<String> {
    let literal = |s: &str| -> Option<String> {
        let rest = &s[s.find('"')? + 1..];
        let word = &rest[..rest.find('"')?];
        (!word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then(|| word.to_owned())
    };
    let mut out = BTreeSet::new();
    for line in code.lines() {
        for marker in ["entity_type: ", "Self::of(key, "] {
            if let Some(at) = line.find(marker) {
                out.extend(literal(&line[at + marker.len()..]));
            }
        }
        for marker in ["(\":et\"", "(\":type\""] {
            if let Some(at) = line.find(marker) {
                let value = &line[at + marker.len()..];
                out.extend(value.find("S(").or_else(|| value.find("s(")).and_then(|v| literal(&value[v..])));
            }
        }
    }
    out
}

#[test]
fn every_kind_the_store_writes_has_a_retention() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src/store");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let mut kinds = BTreeSet::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read store file");
        kinds.extend(written_kinds(&code_only(&text)));
    }
    assert!(kinds.len() >= 35 && kinds.contains("usage_counter") && kinds.contains("invoice_counter"), "{kinds:?}");
    let missing: Vec<_> = kinds.iter().filter(|k| shared::store::retention::of(k).is_none()).collect();
    assert!(missing.is_empty(), "kinds the store writes without a row in store::retention: {missing:?}");
}

#[test]
fn the_retention_reader_finds_kinds_in_each_form() {
    let code = "entity_type: \"a_kind\".into(),\n(\":et\".to_owned(), s(\"b_kind\")),\n\
                (\":type\".to_owned(), AttributeValue::S(\"c_kind\".into())),\nSelf::of(key, \"d_kind\", x)\n\
                (\"#et\", \"entity_type\"),";
    let found: Vec<String> = written_kinds(code).into_iter().collect();
    assert_eq!(found, ["a_kind", "b_kind", "c_kind", "d_kind"]);
}
