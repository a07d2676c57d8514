//! The layering that ARCHITECTURE.md describes, checked against the source: every library
//! module sits in the table, imports only from its own layer or the ones below, and no two
//! modules import each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → layer number (0 = lowest), from the table under "Layers, lowest first".
fn layers() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string("ARCHITECTURE.md").expect("read ARCHITECTURE.md");
    let table = text
        .split("## Layers, lowest first")
        .nth(1)
        .expect("a \"Layers, lowest first\" section");
    let rows = table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2);
    let mut layer_of = BTreeMap::new();
    for (layer, row) in rows.enumerate() {
        let modules = row.split('|').nth(2).expect("a modules column");
        for name in modules.split('`').skip(1).step_by(2) {
            let name = name.trim_end_matches('/').to_string();
            layer_of.insert(name, layer);
        }
    }
    layer_of
}

/// The library's top-level modules, from `pub mod` lines of src/lib.rs.
fn library_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string("src/lib.rs").expect("read src/lib.rs");
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').to_string())
        .collect()
}

/// The code of a file without its unit tests (an inline `mod tests` comes last by convention).
fn without_tests(code: &str) -> &str {
    code.split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(code)
}

/// The top-level modules that `code` names as `crate::name` or in `use crate::{name, …}`.
fn crate_modules_named(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in code.lines().map(str::trim) {
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c, …}`: the first segment of each entry.
                for entry in group.split(',') {
                    named.extend(first_segment(entry.trim_start_matches([' ', '{'])));
                }
            } else {
                named.extend(first_segment(rest));
            }
        }
    }
    named
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.chars().next()?.is_ascii_lowercase()).then_some(name)
}

/// Every library source file below `dir` with the top-level module it belongs to.
fn sources(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("a directory entry").path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let module = top.unwrap_or(&stem).to_string();
        if path.is_dir() {
            sources(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") && !stem.ends_with("tests") {
            let code = std::fs::read_to_string(&path).expect("read a source file");
            out.push((module, without_tests(&code).to_string()));
        }
    }
}

/// Module → the other library modules it imports.
fn imports(modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(Path::new("src"), None, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in files.iter().filter(|(m, _)| modules.contains(m)) {
        let named = crate_modules_named(code);
        let targets = graph.entry(module.clone()).or_default();
        targets.extend(
            named
                .into_iter()
                .filter(|t| t != module && modules.contains(t)),
        );
    }
    graph
}

#[test]
fn every_module_is_in_the_table_and_imports_only_downwards() {
    let layer_of = layers();
    let modules = library_modules();
    assert!(modules.len() > 20, "src/lib.rs lists {modules:?}");
    let missing: Vec<_> = modules
        .iter()
        .filter(|m| !layer_of.contains_key(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md's table: {missing:?}"
    );
    let mut upwards = Vec::new();
    for (module, targets) in imports(&modules) {
        for target in targets {
            if layer_of[&target] > layer_of[&module] {
                upwards.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(
        upwards.is_empty(),
        "imports from a higher layer: {upwards:?}"
    );
}

#[test]
fn no_module_imports_itself_through_others() {
    let graph = imports(&library_modules());
    for start in graph.keys() {
        // Everything reachable from `start`; reaching `start` again is a circle.
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(next) = todo.pop() {
            assert_ne!(next, start, "{start} imports itself through other modules");
            if seen.insert(next.clone()) {
                todo.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
}

#[test]
fn the_reader_sees_imports_the_way_they_are_written() {
    let named = crate_modules_named(
        "use crate::config::{Config, ProviderKind};\nuse crate::{account, policy::Facts};\n// crate::tray in a comment\nlet x = crate::report::build();",
    );
    let expected: BTreeSet<String> = ["config", "account", "policy", "report"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(named, expected);
}
