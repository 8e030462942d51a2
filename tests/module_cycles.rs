//! Dependencies between modules of `src/` and `storage/src/` point one way: this test reads
//! every `.rs` file, builds the module graph and fails, naming the circle, when two modules
//! depend on each other.
//!
//! Granularity. A file is its module (`foo.rs`, `foo/mod.rs` and everything under `foo/`
//! belong to `foo` and its children). A reference from module `a::x::…` to `a::y::…` is an
//! edge between the siblings `a::x` → `a::y`, drawn at the level where the two paths part;
//! a reference from a child to an item defined in an ancestor's own file (`use super::Ctx`)
//! is an edge child-of-ancestor → ancestor, and an ancestor naming its child's items is the
//! edge ancestor → child. So `server` ↔ `files`, `dav` ↔ `dav::propfind` (through `Ctx`),
//! `dav::propfind` ↔ `dav::props` and `dav::ical::time` ↔ `dav::ical::zone` are all cycles;
//! a child using its parent's other children (`super::error::DavError`) is not.
//!
//! References collected: `use` trees and paths written in code that start with `crate::`,
//! `super::`, `self::`, `davgate_storage::`, or with the name of a child module of the file's
//! own module. Comments and literals are skipped; `mod` declarations are not dependencies;
//! inline `mod tests { use super::*; }` resolves `super` to the file's own module.
//!
//! Not asserted: test-only files (`tests.rs` beside the module they test), which are
//! compiled only under `cfg(test)` and read their parent by design. Nor the few edges in
//! `STILL_TO_BREAK`, each listed with why; the list can only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path as segments, the crate name first (`["davgate", "dav", "ical"]`).
type ModPath = Vec<String>;

/// Edges that still close a circle, each with the reason it is not broken yet. They are
/// left out of the graph; the test fails when one no longer exists, so the list only
/// shrinks: delete the line in the change that breaks the edge.
const STILL_TO_BREAK: &[(&str, &str, &str)] = &[];

#[test]
fn module_graph_has_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_crate(&root.join("src"), "davgate", &mut files);
    collect_crate(&root.join("storage/src"), "davgate_storage", &mut files);
    let sources: Vec<Source> = files
        .iter()
        .map(|(module, file)| Source {
            module: module.clone(),
            label: relative(root, file),
            text: std::fs::read_to_string(file).expect("source file is readable"),
        })
        .collect();
    let mut edges = edges_of(&sources);

    let mut stale = Vec::new();
    for (from, to, _why) in STILL_TO_BREAK {
        let from: ModPath = from.split("::").map(str::to_string).collect();
        let to: ModPath = to.split("::").map(str::to_string).collect();
        let removed = edges.get_mut(&from).and_then(|targets| targets.remove(&to));
        if removed.is_none() {
            stale.push(format!("{} -> {}", from.join("::"), to.join("::")));
        }
    }
    assert!(
        stale.is_empty(),
        "these edges are gone: delete them from STILL_TO_BREAK: {stale:?}"
    );

    let cycles = find_cycles(&edges);
    if !cycles.is_empty() {
        let mut report = String::new();
        for cycle in &cycles {
            report.push_str("cycle:\n");
            for pair in cycle.windows(2) {
                let why = &edges[&pair[0]][&pair[1]];
                report.push_str(&format!(
                    "  {} -> {}   ({why})\n",
                    pair[0].join("::"),
                    pair[1].join("::")
                ));
            }
        }
        panic!(
            "{} module dependency cycle(s); move the shared item into a lower module both sides \
             can use:\n{report}",
            cycles.len()
        );
    }
}

/// Dependencies between modules, each with the first place that creates it.
type Edges = BTreeMap<ModPath, BTreeMap<ModPath, String>>;

/// One source file: its module, where it is (for messages) and its text.
struct Source {
    module: ModPath,
    label: String,
    text: String,
}

/// The module graph of these files, projected to the level where each pair of paths part.
fn edges_of(sources: &[Source]) -> Edges {
    let graph = Graph {
        modules: sources
            .iter()
            .flat_map(|source| ancestors_and_self(&source.module))
            .collect(),
        imports: imports(sources),
    };
    let mut edges = Edges::new();
    for source in sources {
        for (target, line) in references(&source.module, &source.text, &graph) {
            let Some((from, to)) = project(&source.module, &target) else {
                continue;
            };
            let why = format!("{}:{line}", source.label);
            edges.entry(from).or_default().entry(to).or_insert(why);
        }
    }
    edges
}

/// The checker itself finds what it is meant to: a parent whose child uses an item
/// defined in the parent's own file, siblings naming each other, and neither a child
/// using an item its parent merely imports from a sibling nor `super::*` in a test module.
#[test]
fn the_checker_finds_planted_cycles() {
    let module = |path: &str| -> ModPath { path.split("::").map(str::to_string).collect() };
    let file = |path: &str, text: &str| Source {
        module: module(path),
        label: path.to_string(),
        text: text.to_string(),
    };
    let planted = [
        file("k::a", "pub struct Ctx; fn f() { b::handle(); }"),
        file("k::a::b", "use super::Ctx; pub fn handle() {}"),
        file("k::s", "use crate::t::T; pub struct S;"),
        file("k::t", "pub struct T(crate::s::S);"),
        file("k::p", "pub use self::leaf::Shared; fn g() { c::run(); }"),
        file("k::p::leaf", "pub struct Shared;"),
        file(
            "k::p::c",
            "use super::Shared; pub fn run() {} #[cfg(test)] mod tests { use super::*; }",
        ),
    ];
    let cycles = find_cycles(&edges_of(&planted));
    let named: Vec<Vec<String>> = cycles
        .iter()
        .map(|cycle| cycle.iter().map(|m| m.join("::")).collect())
        .collect();
    assert_eq!(
        named,
        [
            vec!["k::a", "k::a::b", "k::a"],
            vec!["k::s", "k::t", "k::s"],
        ],
        "{named:?}"
    );
}

/// Every `.rs` file of a crate with its module path; `main.rs` is a separate crate and skipped.
fn collect_crate(src: &Path, krate: &str, out: &mut Vec<(ModPath, PathBuf)>) {
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source dir is readable") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut segments: ModPath = vec![krate.to_string()];
            segments.extend(
                rel.with_extension("")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned()),
            );
            match segments.last().map(String::as_str) {
                Some("main") if segments.len() == 2 => continue,
                // Test-only files: see the module doc.
                Some("tests") => continue,
                Some("lib") if segments.len() == 2 => {
                    segments.pop();
                }
                Some("mod") => {
                    segments.pop();
                }
                _ => {}
            }
            out.push((segments, path));
        }
    }
    out.sort();
}

fn ancestors_and_self(module: &ModPath) -> Vec<ModPath> {
    (1..=module.len()).map(|n| module[..n].to_vec()).collect()
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The edge a reference from `from` to `target` adds, at the level where the paths part.
fn project(from: &ModPath, target: &ModPath) -> Option<(ModPath, ModPath)> {
    let common = from.iter().zip(target).take_while(|(a, b)| a == b).count();
    if common == from.len() && common == target.len() {
        return None;
    }
    if common == target.len() {
        // Child (or deeper) naming an item defined in an ancestor's own file.
        return Some((from[..=common].to_vec(), target.clone()));
    }
    if common == from.len() {
        return Some((from.clone(), target[..=common].to_vec()));
    }
    if common == 0 {
        // Across crates: only davgate → davgate_storage exists, it cannot close a circle.
        return None;
    }
    Some((from[..=common].to_vec(), target[..=common].to_vec()))
}

/// Every elementary circle found by a depth-first search, each listed once, first node repeated last.
fn find_cycles(edges: &Edges) -> Vec<Vec<ModPath>> {
    let mut found: BTreeSet<Vec<ModPath>> = BTreeSet::new();
    for start in edges.keys() {
        let mut path = vec![start.clone()];
        walk(start, edges, &mut path, &mut found);
    }
    found.into_iter().collect()
}

fn walk(
    start: &ModPath,
    edges: &Edges,
    path: &mut Vec<ModPath>,
    found: &mut BTreeSet<Vec<ModPath>>,
) {
    let Some(next) = edges.get(path.last().expect("path is never empty")) else {
        return;
    };
    for to in next.keys() {
        if to == start {
            // Report each circle once, from its smallest node.
            if path.iter().min() == Some(start) {
                let mut cycle = path.clone();
                cycle.push(start.clone());
                found.insert(cycle);
            }
            continue;
        }
        // Circles only through nodes greater than the start, so each is found from its minimum.
        if to < start || path.contains(to) || path.len() > 8 {
            continue;
        }
        path.push(to.clone());
        walk(start, edges, path, found);
        path.pop();
    }
}

/// Resolved module paths this file refers to, each with the line it appears on.
fn references(module: &ModPath, source: &str, graph: &Graph) -> Vec<(ModPath, usize)> {
    let tokens = tokenize(source);
    let mut out = Vec::new();
    // Inline modules opened in this file: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = (&tokens[i].text, tokens[i].line);
        match tok.as_str() {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.text == "{") => {
                inline.push((tokens[i + 1].text.clone(), depth + 1));
                i += 1;
                continue;
            }
            "mod" => {
                // `mod child;` declares, it does not depend.
                i += 2;
                continue;
            }
            "pub" if tokens.get(i + 1).is_some_and(|t| t.text == "(") => {
                // `pub(crate)`, `pub(super)`, `pub(in path)` are visibility, not references.
                while i < tokens.len() && tokens[i].text != ")" {
                    i += 1;
                }
            }
            "use" => {
                let end = (i..tokens.len())
                    .find(|&j| tokens[j].text == ";")
                    .unwrap_or(tokens.len());
                let mut scope = module.clone();
                scope.extend(inline.iter().map(|(name, _)| name.clone()));
                for (path, _) in use_paths(&tokens[i + 1..end]) {
                    if let Some(target) = resolve(module, &scope, &path, graph, 0) {
                        out.push((target, line));
                    }
                }
                i = end;
                continue;
            }
            _ if is_ident(tok)
                && tokens.get(i + 1).is_some_and(|t| t.text == "::")
                && (i == 0 || tokens[i - 1].text != "::") =>
            {
                let mut path = vec![tok.clone()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|t| t.text == "::")
                    && tokens.get(j + 1).is_some_and(|t| is_ident(&t.text))
                {
                    path.push(tokens[j + 1].text.clone());
                    j += 2;
                }
                let mut scope = module.clone();
                scope.extend(inline.iter().map(|(name, _)| name.clone()));
                if let Some(target) = resolve(module, &scope, &path, graph, 0) {
                    out.push((target, line));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A `use` tree flattened into (path, the name it binds): `a::{b, c::{self, d as e}}` gives
/// `a::b` as `b`, `a::c` as `c`, `a::c::d` as `e`; a glob binds no name.
fn use_paths(tokens: &[Token]) -> Vec<(Vec<String>, Option<String>)> {
    fn tree(
        tokens: &[Token],
        i: &mut usize,
        prefix: &[String],
        out: &mut Vec<(Vec<String>, Option<String>)>,
    ) {
        let mut path = prefix.to_vec();
        let mut binding = None;
        let mut glob = false;
        while *i < tokens.len() {
            let tok = tokens[*i].text.as_str();
            match tok {
                "::" => *i += 1,
                "{" => {
                    *i += 1;
                    loop {
                        tree(tokens, i, &path, out);
                        match tokens.get(*i).map(|t| t.text.as_str()) {
                            Some(",") => *i += 1,
                            Some("}") => {
                                *i += 1;
                                return;
                            }
                            _ => return,
                        }
                    }
                }
                "," | "}" => break,
                "as" => {
                    binding = tokens.get(*i + 1).map(|t| t.text.clone());
                    *i += 2;
                }
                "self" if !path.is_empty() => *i += 1,
                "*" => {
                    glob = true;
                    *i += 1;
                }
                _ => {
                    path.push(tok.to_string());
                    *i += 1;
                }
            }
        }
        if !path.is_empty() {
            let binding = match (glob, binding) {
                (true, _) => None,
                (false, Some(alias)) => Some(alias),
                (false, None) => path.last().cloned(),
            };
            out.push((path, binding));
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    tree(tokens, &mut i, &[], &mut out);
    out
}

/// Where a name a module imports (or re-exports) comes from: the importing file's module,
/// the scope the path is written in, and the path.
type Imports = BTreeMap<(ModPath, String), (ModPath, ModPath, Vec<String>)>;

/// Every name bound by a `use` in every file, so `super::Ctx` imported from `ctx` in the
/// parent resolves to `ctx` and not to the parent.
fn imports(sources: &[Source]) -> Imports {
    let mut map = Imports::new();
    for Source {
        module,
        text: source,
        ..
    } in sources
    {
        let tokens = tokenize(source);
        let mut i = 0;
        while i < tokens.len() {
            if tokens[i].text == "use" {
                let end = (i..tokens.len())
                    .find(|&j| tokens[j].text == ";")
                    .unwrap_or(tokens.len());
                for (path, binding) in use_paths(&tokens[i + 1..end]) {
                    if let Some(name) = binding {
                        map.entry((module.clone(), name)).or_insert((
                            module.clone(),
                            module.clone(),
                            path,
                        ));
                    }
                }
                i = end;
            }
            i += 1;
        }
    }
    map
}

/// The deepest known module a path names, if it names one of ours; a name imported into a
/// module is followed to where it comes from.
fn resolve(
    file_module: &ModPath,
    scope: &ModPath,
    path: &[String],
    graph: &Graph,
    hops: usize,
) -> Option<ModPath> {
    let first = path.first()?;
    let (mut base, rest): (ModPath, &[String]) = match first.as_str() {
        "crate" | "$crate" => (file_module[..1].to_vec(), &path[1..]),
        "davgate_storage" => (vec!["davgate_storage".to_string()], &path[1..]),
        "self" => (scope.clone(), &path[1..]),
        "super" => {
            let mut base = scope.clone();
            let mut n = 0;
            while path.get(n).is_some_and(|s| s == "super") {
                base.pop();
                n += 1;
            }
            (base, &path[n..])
        }
        _ => {
            let mut child = file_module.clone();
            child.push(first.clone());
            if scope.len() == file_module.len() && graph.modules.contains(&child) {
                (file_module.clone(), path)
            } else {
                return None;
            }
        }
    };
    // Inside an inline module, paths that stay in the file belong to the file's module.
    if base.len() > file_module.len() && base.starts_with(file_module) {
        base.truncate(file_module.len());
    }
    let mut resolved = base;
    for segment in rest {
        let mut deeper = resolved.clone();
        deeper.push(segment.clone());
        if graph.modules.contains(&deeper) {
            resolved = deeper;
            continue;
        }
        if hops < 8
            && let Some((from, scope, path)) =
                graph.imports.get(&(resolved.clone(), segment.clone()))
            && let Some(origin) = resolve(from, scope, path, graph, hops + 1)
        {
            return Some(origin);
        }
        break;
    }
    Some(resolved)
}

/// What resolution needs to know about the whole tree.
struct Graph {
    modules: BTreeSet<ModPath>,
    imports: Imports,
}

struct Token {
    text: String,
    line: usize,
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::` and single punctuation; comments, strings and char literals dropped.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' || (matches!(c, 'b' | 'c') && next == Some('"')) {
            i += if c == '"' { 1 } else { 2 };
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if (c == 'r' && matches!(next, Some('#' | '"')))
            || (c == 'b' && next == Some('r') && matches!(chars.get(i + 2), Some('#' | '"')))
        {
            i += if c == 'r' { 1 } else { 2 };
            let mut hashes = 0;
            while chars.get(i) == Some(&'#') {
                hashes += 1;
                i += 1;
            }
            if chars.get(i) != Some(&'"') {
                // `r#ident`: a raw identifier, keep scanning it as an identifier.
                continue;
            }
            i += 1;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if c == '\'' {
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                // A lifetime or label.
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                text: "::".to_string(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}
