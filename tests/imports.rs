//! The module import graph of `src/` has no cycle (issue 10).
//!
//! Reads every `src/**/*.rs` of the library crate, collects the modules each file names
//! through `use crate::…`, `use super::…`, `use self::…` and inline `crate::…::`/`super::…::`
//! paths, prints the graph between top-level modules and between the files of `services`
//! (run with `--nocapture` to see it), and fails on any cycle in either. A file's own
//! submodules (`mod foo;` declarations) are not imports; code in `#[cfg(test)]` blocks counts
//! like any other code, so a test module cannot hide a cycle either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file as a module path, e.g. `["services", "agenda", "grade"]`.
type ModPath = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/services/agenda/mod.rs` → `services::agenda`; `src/lib.rs` → the crate root.
fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without comments and string literals (so `"http://…"` or a doc link naming a
/// module is not read as an import).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) {
            // Raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' && (i == 0 || !is_ident(b[i - 1])) {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' {
            // A char literal ('a', '\n', '"') or a lifetime ('a): skip only the former.
            if i + 2 < b.len() && b[i + 1] == b'\\' {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
            } else if i + 2 < b.len() && b[i + 2] == b'\'' {
                i += 3;
            } else if let Some(c) = src[i + 1..].chars().next()
                && src[i + 1 + c.len_utf8()..].starts_with('\'')
            {
                i += 2 + c.len_utf8();
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            let c = src[i..].chars().next().expect("char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Expands one `use` tree (without `use` and `;`) into full paths.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').expect("closing brace")];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (k, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..k], &base, out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, out);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().expect("path").trim();
        out.push(join(prefix, path));
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// The byte ranges of inline modules (`mod tests { … }`) in `code`.
fn inline_mods(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = code[i..].find("mod ") {
        let at = i + k;
        i = at + 4;
        if at > 0 && is_ident(b[at - 1]) {
            continue;
        }
        let mut j = at + 4;
        while j < b.len() && (is_ident(b[j]) || b[j] == b' ') {
            j += 1;
        }
        if j >= b.len() || b[j] != b'{' {
            continue;
        }
        let open = j;
        let mut depth = 0;
        while j < b.len() {
            match b[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        out.push((open, j));
    }
    out
}

/// Every path in `code` that starts with `crate`, `super` or `self` (in `use`), as segments,
/// each with the number of inline modules it sits in (their `super` is not the file's).
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mods = inline_mods(code);
    let depth = |at: usize| mods.iter().filter(|(a, b)| *a < at && at < *b).count();
    let mut found = Vec::new();
    // `use` statements, grouped trees included.
    let b = code.as_bytes();
    let mut i = 0;
    while let Some(k) = code[i..].find("use ") {
        let at = i + k;
        i = at + 4;
        if at > 0 && is_ident(b[at - 1]) {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        let body = &code[at + 4..at + end];
        let mut trees = Vec::new();
        expand(body, "", &mut trees);
        for t in trees {
            let segs: Vec<String> = t.split("::").map(|s| s.trim().to_string()).collect();
            if matches!(segs[0].as_str(), "crate" | "super" | "self") {
                found.push((depth(at), segs));
            }
        }
    }
    // Inline paths: `crate::a::b(…)`, `super::x::y`.
    for start in ["crate::", "super::"] {
        let mut i = 0;
        while let Some(k) = code[i..].find(start) {
            let at = i + k;
            i = at + start.len();
            if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b':') {
                continue;
            }
            let mut j = at;
            while j < b.len() && (is_ident(b[j]) || b[j] == b':') {
                j += 1;
            }
            let segs: Vec<String> = code[at..j]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            found.push((depth(at), segs));
        }
    }
    // Bare paths naming a child module of the file (`idempotency::current()` in `mod.rs`).
    let mut i = 0;
    while let Some(k) = code[i..].find("::") {
        let end = i + k;
        i = end + 2;
        if end > 0 && b[end - 1] == b':' {
            continue;
        }
        let mut s = end;
        while s > 0 && is_ident(b[s - 1]) {
            s -= 1;
        }
        if s == end || (s > 0 && b[s - 1] == b':') {
            continue;
        }
        let head = &code[s..end];
        if matches!(head, "crate" | "super" | "self" | "Self") {
            continue;
        }
        let mut j = end + 2;
        while j < b.len() && (is_ident(b[j]) || b[j] == b':') {
            j += 1;
        }
        let mut segs = vec!["self".to_string(), head.to_string()];
        segs.extend(
            code[end + 2..j]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        found.push((0, segs));
    }
    found
}

/// The module a path names: the longest prefix that is a file of the crate.
fn resolve(from: &ModPath, segs: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base: ModPath = Vec::new();
    let mut rest = segs;
    match segs.first().map(String::as_str) {
        Some("crate") => rest = &segs[1..],
        Some("super") | Some("self") => {
            base = from.clone();
            while let Some(s) = rest.first() {
                match s.as_str() {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let mut best = base.clone();
    let mut cur = base;
    for s in rest {
        cur.push(s.clone());
        if modules.contains(&cur) {
            best = cur.clone();
        }
    }
    Some(best)
}

/// A cycle in `graph`, if there is one (depth-first search, colours).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let from = stack.iter().position(|s| s == m).expect("on stack");
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn print(title: &str, graph: &BTreeMap<String, BTreeSet<String>>) {
    println!("{title}");
    for (from, to) in graph {
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        println!("  {from} -> {}", to.join(", "));
    }
}

#[test]
fn src_has_no_import_cycle_between_top_level_modules_or_services_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // `main.rs` is the binary crate: its `crate::` is not the library's.
    files.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(&src, f)).collect();

    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut services: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = module_of(&src, f);
        let code = strip(&std::fs::read_to_string(f).expect("read source"));
        let Some(from_top) = from.first().cloned() else {
            continue; // lib.rs only declares the modules
        };
        top.entry(from_top.clone()).or_default();
        let from_service = (from_top == "services").then(|| from.get(1).cloned());
        if let Some(s) = &from_service {
            let name = s.clone().unwrap_or_else(|| "(mod)".into());
            services.entry(name).or_default();
        }
        for (inline, segs) in paths(&code) {
            let mut here = from.clone();
            here.extend(std::iter::repeat_n("{inline}".to_string(), inline));
            let Some(mut to) = resolve(&here, &segs, &modules) else {
                continue;
            };
            if let Some(k) = to.iter().position(|s| s == "{inline}") {
                to.truncate(k);
            }
            let Some(to_top) = to.first().cloned() else {
                continue;
            };
            if to_top != from_top {
                top.entry(from_top.clone())
                    .or_default()
                    .insert(to_top.clone());
            }
            if let Some(s) = &from_service
                && to_top == "services"
            {
                let a = s.clone().unwrap_or_else(|| "(mod)".into());
                let b = to.get(1).cloned().unwrap_or_else(|| "(mod)".into());
                if a != b {
                    services.entry(a).or_default().insert(b);
                }
            }
        }
    }

    print(
        "top-level modules of src/ (module -> modules it imports):",
        &top,
    );
    print(
        "files of src/services/ (file -> files it imports):",
        &services,
    );
    if let Some(c) = find_cycle(&top) {
        panic!("import cycle between top-level modules: {}", c.join(" -> "));
    }
    if let Some(c) = find_cycle(&services) {
        panic!("import cycle between services files: {}", c.join(" -> "));
    }
}

#[test]
fn nothing_below_the_controllers_names_axum_or_http_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // The HTTP layer: handlers and middleware, the router, the app that wires them, the
    // server loop, and the binary.
    let http_layer = |m: &ModPath| {
        matches!(
            m.first().map(String::as_str),
            Some("controllers" | "router" | "app" | "main")
        ) || m == &["infra".to_string(), "server".to_string()]
    };
    let mut offenders = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        if m.is_empty() || http_layer(&m) {
            continue;
        }
        let code = strip(&std::fs::read_to_string(f).expect("read source"));
        let b = code.as_bytes();
        for krate in ["axum::", "http::", "hyper::", "tower_http::"] {
            let mut i = 0;
            while let Some(k) = code[i..].find(krate) {
                let at = i + k;
                i = at + krate.len();
                if at == 0 || !(is_ident(b[at - 1]) || b[at - 1] == b':') {
                    offenders.push(format!("{}: {}", m.join("::"), krate.trim_end_matches(':')));
                }
            }
        }
    }
    offenders.dedup();
    assert!(
        offenders.is_empty(),
        "HTTP types below the controllers: {offenders:?}"
    );
}

#[test]
fn the_slot_arithmetic_is_pure_over_domain_and_models() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(&src, f)).collect();
    let grade = src.join("services").join("grade.rs");
    let from = module_of(&src, &grade);
    let code = strip(&std::fs::read_to_string(&grade).expect("read grade.rs"));
    let mut imported = BTreeSet::new();
    for (inline, segs) in paths(&code) {
        if inline > 0 {
            continue; // its own tests may use anything
        }
        if let Some(to) = resolve(&from, &segs, &modules)
            && to != from
        {
            imported.insert(to.join("::"));
        }
    }
    let impure: Vec<&String> = imported
        .iter()
        .filter(|m| !(m.starts_with("domain") || m.starts_with("models")))
        .collect();
    assert!(
        impure.is_empty(),
        "services::grade must import only domain and models, imports {impure:?}"
    );
}

#[test]
fn controllers_reach_data_only_through_services() {
    // The store and the tables are below the services: a handler (or the demo loader, or
    // the router) that read them directly would skip the rules the services keep.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        if !matches!(
            m.first().map(String::as_str),
            Some("controllers" | "router" | "demo")
        ) {
            continue;
        }
        let code = strip(&std::fs::read_to_string(f).expect("read source"));
        for needle in [".store", "repositories::", "Store<", "Store::"] {
            if code.contains(needle) {
                offenders.push(format!("{}: {needle}", m.join("::")));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "data reached around the services: {offenders:?}"
    );
}
