//! The layering that ARCHITECTURE.md describes, checked against every import of the source.
//!
//! Every file of the library, the binary and the emulator is parsed; every `use` and every path
//! (`crate::`, `super::`, `self::`, a child module's name, the library's or the emulator's crate
//! name, also inside macro calls) becomes an edge from the file's module to the module it names.
//! The checks: each folder of `src/` is a row of ARCHITECTURE.md's layer table; no edge runs
//! from a lower row to a higher one; and no module reaches itself again through its imports
//! (a circle), whichever crate or folder it runs through. Unit tests are left out: they may
//! look at anything. The planted tests at the end show that each check fails when it should.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The three crates whose imports are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Crate {
    Library,
    Binary,
    Emulator,
}

/// A module: its crate and its path inside it (`["rules", "expiry"]`; the root is empty).
type Module = (Crate, Vec<String>);

/// One source file, as the checks see it.
struct Source {
    krate: Crate,
    module: Vec<String>,
    code: String,
}

/// The crate names other crates use for the library and the emulator.
const LIBRARY_NAME: &str = "signin_assistant";
const EMULATOR_NAMES: &[&str] = &["emulator", "signin_assistant_emulator"];

// ----- reading the tree ---------------------------------------------------------------------

/// Layer folder (or top-level module) → row number (0 = lowest), from "Layers, lowest first".
fn layer_table(architecture: &str) -> BTreeMap<String, usize> {
    let table = architecture
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
        let folder = row.split('|').nth(2).expect("a folder column");
        let name = folder.split('`').nth(1).expect("a folder in backquotes");
        layer_of.insert(name.trim_end_matches('/').to_string(), layer);
    }
    layer_of
}

/// Every source file below `dir`, with its module path; test modules are left out.
fn read_crate(krate: Crate, dir: &Path, skip: &[&str], out: &mut Vec<Source>) {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    for file in files {
        let relative = file.strip_prefix(dir).expect("below its crate");
        if skip.iter().any(|s| relative.starts_with(s)) {
            continue;
        }
        let module = module_path(relative);
        if module.iter().any(|m| m == "tests" || m.ends_with("_tests")) {
            continue;
        }
        let code = std::fs::read_to_string(&file).expect("read a source file");
        out.push(Source {
            krate,
            module,
            code,
        });
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `rules/expiry.rs` → `["rules", "expiry"]`; `agent/mod.rs`, `lib.rs` and `main.rs` name
/// their folder (or the root).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The whole tree: the library, the binary (`src/bin/signin-assistant/`) and the emulator.
fn read_tree() -> Vec<Source> {
    let mut sources = Vec::new();
    read_crate(Crate::Library, Path::new("src"), &["bin"], &mut sources);
    read_crate(
        Crate::Binary,
        Path::new("src/bin/signin-assistant"),
        &[],
        &mut sources,
    );
    if Path::new("emulator/src").is_dir() {
        read_crate(
            Crate::Emulator,
            Path::new("emulator/src"),
            &[],
            &mut sources,
        );
    }
    sources
}

// ----- paths in the code ---------------------------------------------------------------------

/// A path as written, with the (inline) module it is written in.
struct WrittenPath {
    scope: Vec<String>,
    segments: Vec<String>,
}

/// Walks one file: every `use` and path, the child modules each scope declares, and the
/// inline modules (`mod platform { … }`) that paths are written in.
#[derive(Default)]
struct PathCollector {
    scope: Vec<String>,
    paths: Vec<WrittenPath>,
    /// Scope → the modules declared in it (`mod x;` and `mod x { … }`).
    children: BTreeMap<Vec<String>, BTreeSet<String>>,
    /// Scope → the names its `use` items bind, with the path each stands for.
    bindings: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

impl PathCollector {
    fn record(&mut self, segments: Vec<String>) {
        if !segments.is_empty() {
            self.paths.push(WrittenPath {
                scope: self.scope.clone(),
                segments,
            });
        }
    }

    /// `a::{b, c::d, self}` → `a::b`, `a::c::d`, `a`.
    fn record_use(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.record_use(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => self.record_leaf(prefix, &name.ident, &name.ident),
            syn::UseTree::Rename(rename) => self.record_leaf(prefix, &rename.ident, &rename.rename),
            syn::UseTree::Glob(_) => self.record(prefix.clone()),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.record_use(prefix, tree);
                }
            }
        }
    }

    fn record_leaf(&mut self, prefix: &[String], ident: &syn::Ident, bound_as: &syn::Ident) {
        let mut full = prefix.to_vec();
        let bound_as = if ident == "self" {
            prefix.last().cloned().unwrap_or_default()
        } else {
            full.push(ident.to_string());
            bound_as.to_string()
        };
        self.bindings
            .entry(self.scope.clone())
            .or_default()
            .insert(bound_as, full.clone());
        self.record(full);
    }

    /// Paths inside a macro call's tokens (`info!("{}", crate::x::y())`): any `a::b::c` run.
    fn record_tokens(&mut self, tokens: TokenStream) {
        let mut run: Vec<String> = Vec::new();
        let mut colons = 0;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) if run.is_empty() || colons == 2 => {
                    run.push(ident.to_string());
                    colons = 0;
                }
                TokenTree::Punct(p) if p.as_char() == ':' && !run.is_empty() && colons < 2 => {
                    colons += 1;
                }
                other => {
                    if run.len() > 1 {
                        self.record(std::mem::take(&mut run));
                    }
                    run.clear();
                    colons = 0;
                    if let TokenTree::Group(group) = other {
                        self.record_tokens(group.stream());
                    } else if let TokenTree::Ident(ident) = other {
                        run.push(ident.to_string());
                    }
                }
            }
        }
        if run.len() > 1 {
            self.record(run);
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        self.children
            .entry(self.scope.clone())
            .or_default()
            .insert(name.clone());
        if let Some((_, items)) = &item.content {
            self.scope.push(name);
            for item in items {
                self.visit_item(item);
            }
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.record_use(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.record(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.record_tokens(mac.tokens.clone());
    }
}

// ----- the graph -----------------------------------------------------------------------------

/// What the files declare: every module of every crate (inline ones map to their file).
struct Tree {
    /// Module → the file module it is written in.
    file_of: BTreeMap<Module, Module>,
    /// Module → the child modules it declares.
    children: BTreeMap<Module, BTreeSet<String>>,
    /// Module → the names its `use` items bind (so a path through a re-export reaches the
    /// module that defines the item).
    bindings: BTreeMap<Module, BTreeMap<String, Vec<String>>>,
}

/// Module → the modules it imports (file modules; an import of its own file is left out).
type Graph = BTreeMap<Module, BTreeSet<Module>>;

fn build_graph(sources: &[Source]) -> Result<Graph, String> {
    let mut tree = Tree {
        file_of: BTreeMap::new(),
        children: BTreeMap::new(),
        bindings: BTreeMap::new(),
    };
    let mut written = Vec::new();
    for source in sources {
        let file: syn::File = syn::parse_file(&source.code)
            .map_err(|e| format!("{:?} {:?}: {e}", source.krate, source.module))?;
        let mut collector = PathCollector::default();
        collector.visit_file(&file);
        let file_module = (source.krate, source.module.clone());
        tree.file_of
            .insert(file_module.clone(), file_module.clone());
        for (scope, names) in collector.children {
            let mut inline = source.module.clone();
            inline.extend(scope);
            for name in &names {
                let mut child = inline.clone();
                child.push(name.clone());
                // `mod x;` is its own file (inserted when that file is read); `mod x {}` is not.
                tree.file_of
                    .entry((source.krate, child))
                    .or_insert_with(|| file_module.clone());
            }
            tree.children
                .entry((source.krate, inline))
                .or_default()
                .extend(names);
        }
        for (scope, names) in collector.bindings {
            let mut inline = source.module.clone();
            inline.extend(scope);
            tree.bindings.insert((source.krate, inline), names);
        }
        written.push((file_module, collector.paths));
    }
    // Files declared with `mod x;` were inserted as inline above when read before their file.
    for source in sources {
        let module = (source.krate, source.module.clone());
        tree.file_of.insert(module.clone(), module);
    }
    let mut graph = Graph::new();
    for (file_module, paths) in written {
        let targets = graph.entry(file_module.clone()).or_default();
        for path in paths {
            let Some(target) = resolve(&tree, &file_module, &path, 0) else {
                continue;
            };
            if !contains(&target, &file_module) && !contains(&file_module, &target) {
                targets.insert(target);
            }
        }
    }
    Ok(graph)
}

/// Whether `inner` is `outer` or inside it. A module uses its parents' items (it is part of
/// them) and its own children (it is made of them): those are not imports between modules.
fn contains(outer: &Module, inner: &Module) -> bool {
    outer.0 == inner.0 && inner.1.starts_with(&outer.1)
}

/// The file module that defines what `path`, written in `file_module`, names; `None` for
/// other crates' paths and for local names. A name that module only imports (`pub use`, or a
/// `use` its children reach through `super::`) is followed to where it is defined.
fn resolve(tree: &Tree, file_module: &Module, path: &WrittenPath, depth: usize) -> Option<Module> {
    let (krate, module) = file_module;
    let mut scope = module.clone();
    scope.extend(path.scope.iter().cloned());
    let mut segments = path.segments.iter().peekable();
    let first = segments.next()?.as_str();
    // A lone name is a local item or variable, unless it is `crate`, `self` or `super`.
    if path.segments.len() == 1 && !matches!(first, "crate" | "self" | "super") {
        return None;
    }
    let mut base: Module = match first {
        "crate" => (*krate, Vec::new()),
        "self" => (*krate, scope),
        "super" => {
            scope.pop();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                scope.pop();
            }
            (*krate, scope)
        }
        LIBRARY_NAME => (Crate::Library, Vec::new()),
        name if EMULATOR_NAMES.contains(&name) && *krate != Crate::Emulator => {
            (Crate::Emulator, Vec::new())
        }
        name => {
            let declared = tree.children.get(&(*krate, scope.clone()))?;
            if !declared.contains(name) {
                return None;
            }
            scope.push(name.to_string());
            (*krate, scope)
        }
    };
    for segment in segments {
        base.1.push(segment.clone());
        if tree.file_of.contains_key(&base) {
            continue;
        }
        base.1.pop();
        let through = tree.bindings.get(&base).and_then(|b| b.get(segment));
        if let (Some(written), true) = (through, depth < 8) {
            let file = tree.file_of.get(&base)?.clone();
            let scope = base.1[file.1.len()..].to_vec();
            let again = WrittenPath {
                scope,
                segments: written.clone(),
            };
            return resolve(tree, &file, &again, depth + 1)
                .or_else(|| tree.file_of.get(&base).cloned());
        }
        break;
    }
    tree.file_of.get(&base).cloned()
}

// ----- the checks ----------------------------------------------------------------------------

/// The row of the table a module belongs to; the library's root (`lib.rs`) is below all rows.
fn layer(table: &BTreeMap<String, usize>, module: &Module) -> Option<usize> {
    let row = |name: &str| table.get(name).copied();
    match module.0 {
        Crate::Binary => row("bin"),
        Crate::Emulator => row("emulator"),
        Crate::Library => module.1.first().map_or(Some(0), |top| row(top)),
    }
}

fn name(module: &Module) -> String {
    let krate = match module.0 {
        Crate::Library => "src",
        Crate::Binary => "src/bin/signin-assistant",
        Crate::Emulator => "emulator",
    };
    std::iter::once(krate)
        .chain(module.1.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("/")
}

/// Every import that runs from a lower row of the table to a higher one, and every module the
/// table does not place.
fn upward_imports(table: &BTreeMap<String, usize>, graph: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    for (module, targets) in graph {
        let Some(from) = layer(table, module) else {
            problems.push(format!("{} is in no row of the layer table", name(module)));
            continue;
        };
        for target in targets {
            match layer(table, target) {
                Some(to) if to > from => problems.push(format!(
                    "{} imports {} above it",
                    name(module),
                    name(target)
                )),
                Some(_) => {}
                None => problems.push(format!("{} is in no row of the layer table", name(target))),
            }
        }
    }
    problems
}

/// One circle per module that reaches itself again, written `a -> b -> a`.
fn circles(graph: &Graph) -> Vec<String> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        if let Some(mut circle) = path_back(graph, start) {
            // The same circle from each of its members: keep one spelling.
            let smallest = circle
                .iter()
                .enumerate()
                .min_by_key(|(_, m)| *m)
                .map(|(i, _)| i)
                .unwrap_or(0);
            circle.rotate_left(smallest);
            let mut names: Vec<String> = circle.iter().map(name).collect();
            names.push(names[0].clone());
            found.insert(names.join(" -> "));
        }
    }
    found.into_iter().collect()
}

/// The shortest way from `start` back to itself, if there is one (breadth first).
fn path_back(graph: &Graph, start: &Module) -> Option<Vec<Module>> {
    let mut came_from: BTreeMap<&Module, &Module> = BTreeMap::new();
    let mut todo = std::collections::VecDeque::from([start]);
    while let Some(current) = todo.pop_front() {
        for next in graph.get(current).into_iter().flatten() {
            if next == start {
                let mut circle = vec![current.clone()];
                let mut at = current;
                while at != start {
                    at = came_from[at];
                    circle.push(at.clone());
                }
                circle.reverse();
                return Some(circle);
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, current);
                todo.push_back(next);
            }
        }
    }
    None
}

fn problems(table: &BTreeMap<String, usize>, sources: &[Source]) -> Vec<String> {
    let graph = match build_graph(sources) {
        Ok(graph) => graph,
        Err(e) => return vec![format!("cannot parse {e}")],
    };
    let mut problems = upward_imports(table, &graph);
    problems.extend(circles(&graph).into_iter().map(|c| format!("circle: {c}")));
    problems
}

// ----- the tree as it is ---------------------------------------------------------------------

#[test]
fn every_folder_of_src_is_a_layer_and_every_layer_a_folder() {
    let table = layer_table(&std::fs::read_to_string("ARCHITECTURE.md").expect("read it"));
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir("src").expect("read src") {
        let path = entry.expect("an entry").path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if stem != "lib" {
            on_disk.insert(stem);
        }
    }
    let in_table: BTreeSet<String> = table
        .keys()
        .filter(|name| *name != "emulator" || Path::new("src/emulator").exists())
        .cloned()
        .collect();
    assert_eq!(on_disk, in_table, "src/ against ARCHITECTURE.md's table");
    let lib = std::fs::read_to_string("src/lib.rs").expect("read src/lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';'))
        .collect();
    let mut lowest_first = declared.clone();
    lowest_first.sort_by_key(|m| table[*m]);
    assert_eq!(
        declared, lowest_first,
        "src/lib.rs lists the layers lowest first"
    );
}

#[test]
fn no_import_runs_upwards_or_closes_a_circle() {
    let table = layer_table(&std::fs::read_to_string("ARCHITECTURE.md").expect("read it"));
    let sources = read_tree();
    assert!(sources.len() > 80, "read only {} files", sources.len());
    let graph = build_graph(&sources).expect("every file parses");
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(edges > 300, "only {edges} imports seen");
    let problems = problems(&table, &sources);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ----- planted faults: each check fails when it should ---------------------------------------

fn planted_table() -> BTreeMap<String, usize> {
    layer_table(
        "## Layers, lowest first\n| layer | folder | what |\n|---|---|---|\n\
         | rules | `rules/` | x |\n| agent | `agent/` | x |\n| emulator | `emulator` | x |\n\
         | binary | `bin/` | x |\n",
    )
}

fn source(krate: Crate, module: &str, code: &str) -> Source {
    Source {
        krate,
        module: module
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        code: code.to_string(),
    }
}

fn planted_tree(extra: Vec<Source>) -> Vec<Source> {
    let mut sources = vec![
        source(Crate::Library, "", "pub mod rules; pub mod agent;"),
        source(Crate::Library, "rules", "pub mod expiry;"),
        source(Crate::Library, "rules/expiry", "pub struct Facts;"),
        source(
            Crate::Library,
            "agent",
            "mod change; use crate::rules::expiry::Facts; pub struct Agent;",
        ),
        source(Crate::Library, "agent/change", "pub fn change() {}"),
        source(Crate::Binary, "", "mod cli; fn main() { cli::run() }"),
        source(
            Crate::Binary,
            "cli",
            "use signin_assistant::agent::Agent; pub fn run() {}",
        ),
        source(Crate::Emulator, "", "mod token; pub use token::serve;"),
        source(Crate::Emulator, "token", "pub fn serve() {}"),
    ];
    sources.extend(extra);
    sources
}

#[test]
fn a_tree_that_keeps_the_rules_passes() {
    assert_eq!(
        problems(&planted_table(), &planted_tree(vec![])),
        Vec::<String>::new()
    );
}

#[test]
fn a_planted_upward_import_fails() {
    let mut tree = planted_tree(vec![]);
    tree[1].code.push_str("\nuse crate::agent::Agent;");
    assert_eq!(
        problems(&planted_table(), &tree),
        ["src/rules imports src/agent above it"]
    );
}

#[test]
fn an_upward_import_inside_a_macro_call_fails() {
    let mut tree = planted_tree(vec![]);
    tree[1]
        .code
        .push_str("\nfn f() { tracing::info!(\"{:?}\", crate::agent::Agent); }");
    assert_eq!(
        problems(&planted_table(), &tree),
        ["src/rules imports src/agent above it"]
    );
}

#[test]
fn a_planted_circle_through_super_fails() {
    // `calls` names its sibling through `super::`; `change` reaches `calls` through the
    // parent's re-export.
    let mut tree = planted_tree(vec![source(
        Crate::Library,
        "agent/calls",
        "pub struct Calls; fn f() { super::change::change() }",
    )]);
    tree[3].code.push_str("\nmod calls; pub use calls::Calls;");
    tree[4].code.push_str("\nuse super::Calls;");
    assert_eq!(
        problems(&planted_table(), &tree),
        ["circle: src/agent/calls -> src/agent/change -> src/agent/calls"]
    );
}

#[test]
fn a_planted_circle_in_the_binary_fails() {
    let tree = planted_tree(vec![
        source(
            Crate::Binary,
            "commands",
            "use crate::tools::NotDetermined; pub fn with_login_item() {}",
        ),
        source(
            Crate::Binary,
            "tools",
            "pub struct NotDetermined; fn f() { crate::commands::with_login_item() }",
        ),
    ]);
    assert_eq!(
        problems(&planted_table(), &tree),
        ["circle: src/bin/signin-assistant/commands -> src/bin/signin-assistant/tools -> src/bin/signin-assistant/commands"]
    );
}

#[test]
fn a_planted_circle_in_the_emulator_fails() {
    let mut tree = planted_tree(vec![source(
        Crate::Emulator,
        "device",
        "use super::token::serve; pub fn form() {}",
    )]);
    tree[8].code.push_str("\nuse crate::device::form;");
    assert_eq!(
        problems(&planted_table(), &tree),
        ["circle: emulator/device -> emulator/token -> emulator/device"]
    );
}

#[test]
fn the_library_importing_the_binary_or_the_emulator_fails() {
    let mut tree = planted_tree(vec![]);
    tree[4].code.push_str("\nuse emulator::serve;");
    assert_eq!(
        problems(&planted_table(), &tree),
        ["src/agent/change imports emulator/token above it"]
    );
}

#[test]
fn unit_tests_may_look_at_anything() {
    let mut tree = planted_tree(vec![]);
    tree[2]
        .code
        .push_str("\n#[cfg(test)]\nmod tests { use crate::agent::Agent; }");
    assert_eq!(problems(&planted_table(), &tree), Vec::<String>::new());
}
