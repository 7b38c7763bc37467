//! The shape of `shared/src`: which module uses which (every `crate::…` and `super::…` path in a file's non-test
//! code), and the import cycles between modules. A cycle not listed in `tests/architecture-cycles.txt` fails
//! the test, and so does a listed one that no longer exists (the list only shrinks, towards none: issue 14).

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

fn listed_cycles() -> Vec<BTreeSet<String>> {
    let path = integration_tests::workspace_root().join("tests/architecture-cycles.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out: Vec<BTreeSet<String>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    out.sort();
    out
}

#[test]
fn the_module_graph_has_no_new_import_cycle_and_the_known_ones_only_shrink() {
    let found = cycles(&dependencies());
    let listed = listed_cycles();
    let show = |c: &[BTreeSet<String>]| {
        c.iter().map(|s| s.iter().cloned().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(
        found,
        listed,
        "the import cycles of shared/src differ from tests/architecture-cycles.txt; a new cycle must be broken, a \
         broken one struck from the list.\nfound now:\n{}\n",
        show(&found)
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
    assert!(joined.contains(&"ids::new".to_owned()), "{joined:?}");
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    edges.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&edges), vec![BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()])]);
    assert_eq!(module_of(Path::new("subscriptions/mod.rs")), "subscriptions");
    assert_eq!(module_of(Path::new("store/keys.rs")), "store::keys");
}
