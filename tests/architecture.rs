//! Architecture checks on the source tree, run with the other tests (no root):
//!
//! 1. No import cycle: every file of `src/` is a module; an edge A → B is any
//!    path in A (a `use` or a path in code, `crate::`, `super::` or `self::`)
//!    that names B or an item defined in B. A `pub use` of a child module's
//!    items in its parent is the parent's facade, not an edge: a path through
//!    a facade is followed to the module that defines the item. The graph's
//!    strongly connected components must all be single modules. Test code
//!    (`#[cfg(test)]` items and modules) is not part of the layering and is
//!    left out; paths inside macro invocations are not seen.
//! 2. Only `src/api/` knows HTTP: no `ApiError`, `StatusCode`, or path into
//!    `axum`, `hyper`, `hyper_util`, `http` or `http_body_util` elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module: its path from the crate root (`["daemon", "core"]`) and file.
struct Module {
    file: PathBuf,
    ast: syn::File,
    /// Items defined at the top of the file (not `use`s).
    defined: BTreeSet<String>,
    /// `pub use` re-exports of this module's items from elsewhere:
    /// name → absolute path of the item.
    reexports: BTreeMap<String, Vec<String>>,
    /// `pub use PATH::*` re-exports: absolute module paths.
    globs: Vec<Vec<String>>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
            out.push(path);
        }
    }
}

/// Flattens a `use` tree into its paths as written (leaf `*` kept as a
/// segment), each with the name it binds (`as` renames included).
fn use_paths(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut next = prefix;
            next.push(p.ident.to_string());
            use_paths(&p.tree, next, out);
        }
        syn::UseTree::Name(n) => {
            let mut next = prefix;
            let bound = if n.ident == "self" {
                next.last().cloned().unwrap_or_default()
            } else {
                next.push(n.ident.to_string());
                n.ident.to_string()
            };
            out.push((next, bound));
        }
        syn::UseTree::Rename(r) => {
            let mut next = prefix;
            next.push(r.ident.to_string());
            out.push((next, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => {
            let mut next = prefix;
            next.push("*".into());
            out.push((next, "*".into()));
        }
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix.clone(), out);
            }
        }
    }
}

/// Resolves `crate::`, `super::` and `self::` at the front of `segments`,
/// written in the module `here` at inline-module depth `depth`. `None` for
/// paths that do not start with one of them (external or local names).
fn absolute(segments: &[String], here: &[String], depth: usize) -> Option<Vec<String>> {
    let first = segments.first()?;
    let mut base: Vec<String>;
    let mut rest = segments;
    match first.as_str() {
        "crate" => {
            base = Vec::new();
            rest = &segments[1..];
        }
        "self" => {
            base = here.to_vec();
            rest = &segments[1..];
        }
        "super" => {
            base = here.to_vec();
            // Inline modules (`mod tests { use super::*; }`) live in the
            // file's module: their first `super`s stay in it.
            let mut inline = depth;
            while let Some(s) = rest.first() {
                if s != "super" {
                    break;
                }
                if inline > 0 {
                    inline -= 1;
                } else {
                    base.pop();
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Collects a file's `use` paths (with the names they bind) and the paths
/// in its code, each with the depth of inline modules it was found at.
#[derive(Default)]
struct Paths {
    depth: usize,
    /// (path, bound name, depth, a non-private `use` at the file's top).
    uses: Vec<(Vec<String>, String, usize, bool)>,
    code: Vec<(Vec<String>, usize)>,
    /// Whether the file names HTTP things (check 2).
    http: Vec<String>,
}

const HTTP_CRATES: &[&str] = &["axum", "hyper", "hyper_util", "http", "http_body_util"];
const HTTP_NAMES: &[&str] = &["ApiError", "StatusCode"];

/// Whether an item is compiled for tests only (`#[cfg(test)]`).
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|id| id == "test")
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.depth += 1;
        syn::visit::visit_item_mod(self, m);
        self.depth -= 1;
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&u.tree, Vec::new(), &mut paths);
        let exported = self.depth == 0 && !matches!(u.vis, syn::Visibility::Inherited);
        for (p, bound) in paths {
            self.note_http(&p);
            self.uses.push((p, bound, self.depth, exported));
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.note_http(&segs);
        self.code.push((segs, self.depth));
        syn::visit::visit_path(self, p);
    }
}

impl Paths {
    fn note_http(&mut self, segs: &[String]) {
        if let Some(first) = segs.first()
            && HTTP_CRATES.contains(&first.as_str())
        {
            self.http.push(segs.join("::"));
        }
        if let Some(name) = segs.iter().find(|s| HTTP_NAMES.contains(&s.as_str())) {
            self.http.push(name.clone());
        }
    }
}

fn defined_items(ast: &syn::File) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for item in &ast.items {
        let name = match item {
            syn::Item::Const(i) => i.ident.to_string(),
            syn::Item::Enum(i) => i.ident.to_string(),
            syn::Item::Fn(i) => i.sig.ident.to_string(),
            syn::Item::Macro(i) => match &i.ident {
                Some(id) => id.to_string(),
                None => continue,
            },
            syn::Item::Mod(i) if i.content.is_some() => i.ident.to_string(),
            syn::Item::Static(i) => i.ident.to_string(),
            syn::Item::Struct(i) => i.ident.to_string(),
            syn::Item::Trait(i) => i.ident.to_string(),
            syn::Item::Type(i) => i.ident.to_string(),
            syn::Item::Union(i) => i.ident.to_string(),
            _ => continue,
        };
        out.insert(name);
    }
    out
}

fn load() -> BTreeMap<Vec<String>, Module> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut parsed = Vec::new();
    let mut test_only = BTreeSet::new();
    for file in files {
        let here = module_path(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in &ast.items {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
                && is_cfg_test(&m.attrs)
            {
                let mut child = here.clone();
                child.push(m.ident.to_string());
                test_only.insert(child);
            }
        }
        parsed.push((file, here, ast));
    }
    let mut modules = BTreeMap::new();
    for (file, here, ast) in parsed {
        if test_only.contains(&here) {
            continue;
        }
        let mut reexports = BTreeMap::new();
        let mut globs = Vec::new();
        for item in &ast.items {
            let syn::Item::Use(u) = item else { continue };
            if matches!(u.vis, syn::Visibility::Inherited) {
                continue;
            }
            let mut paths = Vec::new();
            use_paths(&u.tree, vec![], &mut paths);
            for (p, _) in paths {
                // A bare `pub use child::X` in a parent is relative to it.
                let abs = absolute(&p, &here, 0).unwrap_or_else(|| {
                    let mut a = here.clone();
                    a.extend(p.iter().cloned());
                    a
                });
                match abs.last().map(String::as_str) {
                    Some("*") => globs.push(abs[..abs.len() - 1].to_vec()),
                    Some(name) => {
                        reexports.insert(name.to_string(), abs.clone());
                    }
                    None => {}
                }
            }
        }
        let defined = defined_items(&ast);
        modules.insert(
            here,
            Module {
                file,
                ast,
                defined,
                reexports,
                globs,
            },
        );
    }
    modules
}

/// The module that defines what `path` (absolute) names, following
/// re-exports; `None` outside the crate's modules.
fn resolve(
    modules: &BTreeMap<Vec<String>, Module>,
    path: &[String],
    hops: usize,
) -> Option<Vec<String>> {
    if hops > 16 {
        return None;
    }
    // The longest prefix of `path` that is a file module.
    let mut module: Vec<String> = Vec::new();
    let mut i = 0;
    while i < path.len() {
        let mut next = module.clone();
        next.push(path[i].clone());
        if modules.contains_key(&next) {
            module = next;
            i += 1;
        } else {
            break;
        }
    }
    let m = modules.get(&module)?;
    let Some(name) = path.get(i) else {
        return Some(module);
    };
    if name == "*" || m.defined.contains(name) {
        return Some(module);
    }
    if let Some(target) = m.reexports.get(name) {
        return resolve(modules, target, hops + 1).or(Some(module));
    }
    for glob in &m.globs {
        let mut candidate = glob.clone();
        candidate.push(name.clone());
        if let Some(found) = resolve(modules, &candidate, hops + 1)
            && found != module
            && modules[&found].defined.contains(name)
        {
            return Some(found);
        }
    }
    Some(module)
}

/// Whether the path at `abs`, seen in `here`, is `here`'s own facade entry
/// (a `pub use` of one of its children's items).
fn is_facade(here: &[String], m: &Module, abs: &[String]) -> bool {
    abs.len() > here.len()
        && abs.starts_with(here)
        && m.reexports
            .values()
            .chain(m.globs.iter())
            .any(|r| abs.starts_with(r) || r.starts_with(abs))
}

/// `p`, written in `here` at inline depth `depth`, as an absolute path
/// inside the crate: `crate`/`super`/`self` paths, paths through a name a
/// `use` bound (`aliases`), and paths into a child module (`child::X`).
/// `None` for external crates and local names.
fn to_absolute(
    modules: &BTreeMap<Vec<String>, Module>,
    aliases: &BTreeMap<String, Vec<String>>,
    here: &[String],
    p: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    if let Some(abs) = absolute(p, here, depth) {
        return Some(abs);
    }
    let first = p.first()?;
    if let Some(alias) = aliases.get(first) {
        let mut abs = alias.clone();
        abs.extend(p[1..].iter().cloned());
        return Some(abs);
    }
    let mut child = here.to_vec();
    child.push(first.clone());
    modules.contains_key(&child).then(|| {
        let mut abs = here.to_vec();
        abs.extend(p.iter().cloned());
        abs
    })
}

fn edges(modules: &BTreeMap<Vec<String>, Module>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (here, m) in modules {
        let mut paths = Paths::default();
        paths.visit_file(&m.ast);
        // What each `use` binds, for the paths in code that go through it.
        let no_aliases = BTreeMap::new();
        let aliases: BTreeMap<String, Vec<String>> = paths
            .uses
            .iter()
            .filter(|(_, bound, _, _)| bound != "*")
            .filter_map(|(p, bound, depth, _)| {
                Some((
                    bound.clone(),
                    to_absolute(modules, &no_aliases, here, p, *depth)?,
                ))
            })
            .collect();
        let mut wanted = Vec::new();
        for (p, _, depth, exported) in &paths.uses {
            let Some(abs) = to_absolute(modules, &no_aliases, here, p, *depth) else {
                continue;
            };
            // A module's re-export of its own children's items is its
            // facade, not a dependency.
            if *exported && is_facade(here, m, &abs) {
                continue;
            }
            wanted.push(abs);
        }
        for (p, depth) in &paths.code {
            if let Some(abs) = to_absolute(modules, &aliases, here, p, *depth) {
                wanted.push(abs);
            }
        }
        let targets = graph.entry(here.clone()).or_default();
        for abs in wanted {
            if let Some(target) = resolve(modules, &abs, 0)
                && target != *here
                && !target.is_empty()
            {
                targets.insert(target);
            }
        }
    }
    graph
}

/// Tarjan's strongly connected components with more than one module.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn strong<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.graph.get(v) {
            for w in targets {
                let Some((w, _)) = s.graph.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    strong(s, w);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            strong(&mut s, v);
        }
    }
    s.out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = load();
    assert!(modules.len() > 40, "found only {} modules", modules.len());
    let graph = edges(&modules);
    // The checker sees real edges (so that an empty graph cannot pass).
    let daemon_core = vec!["daemon".to_string(), "core".to_string()];
    assert!(graph[&vec!["daemon".to_string(), "startup".to_string()]].contains(&daemon_core));
    let found = cycles(&graph);
    let text: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(text.is_empty(), "import cycles:\n{}", text.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_when_there_is_one() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let graph: BTreeMap<_, BTreeSet<_>> = [
        (m("a"), [m("b")].into()),
        (m("b"), [m("c")].into()),
        (m("c"), [m("a")].into()),
        (m("d"), [m("a")].into()),
    ]
    .into();
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 3);
}

#[test]
fn only_the_api_layer_knows_http() {
    let modules = load();
    let mut offenders = Vec::new();
    for (here, m) in &modules {
        if here.first().is_some_and(|s| s == "api") {
            continue;
        }
        let mut paths = Paths::default();
        paths.visit_file(&m.ast);
        for what in paths.http {
            offenders.push(format!("{}: {what}", m.file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "HTTP outside src/api/:\n{}",
        offenders.join("\n")
    );
}
