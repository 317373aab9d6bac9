//! The layering of `src/` (README "Layout", issue 14), checked from the source: every `crate::`, `super::`
//! and `self::` path in every file is resolved to the module it names, then
//! - a part may import only parts of a lower layer or its own (core < api < http < server),
//! - every top-level part of `src/` has a layer,
//! - no modules with the same parent import each other in a cycle, at any depth,
//! - the codex crate never names codex-serve.
//!
//! Comments and string literals are skipped, so doc links and messages do not count as imports. Paths
//! written without `crate::` (a `use child::Item` in a parent) only reach the file's own children, which
//! are never a layering question.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of issue 14, lowest first. `fuzz` is test support that imports nothing of the crate.
const LAYERS: &[(&str, u8)] = &[
    ("fuzz", 0),
    ("core", 2),
    ("api", 3),
    ("http", 4),
    ("server", 5),
];

#[test]
#[ignore = "until the engine moves into src/core and src/api (issue 14, branch core)"]
fn src_has_no_upward_import_and_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let problems = check(&root.join("src"), LAYERS);
    assert!(
        problems.is_empty(),
        "the layering of src/ is broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_codex_crate_knows_nothing_of_serving() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("codex/src");
    let mut bad = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("read");
        let toks = tokens(&text);
        if toks.iter().any(|t| t.text == "codex_serve") {
            bad.push(file.display().to_string());
        }
    }
    assert!(bad.is_empty(), "codex/ names codex_serve in: {bad:?}");
}

/// The check finds what it is for: an upward import, a cycle, a part without a layer, with the file and
/// the import that causes each, and it is not fooled by comments, strings or inline test modules.
#[test]
fn the_check_reports_the_file_and_the_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("lib.rs", "mod core; mod http; mod server; mod extra;");
    write("core/mod.rs", "pub mod a; pub mod b;");
    // a ↔ b: a cycle between siblings, one edge through a grouped use, one through an expression path.
    write(
        "core/a.rs",
        "use crate::{core::b::{B, self}, http};\npub struct A;",
    );
    write(
        "core/b.rs",
        "// use crate::server::Nope; (a comment)\nfn f() { let _ = \"crate::server::X\"; super::a::A; }\n\
         #[cfg(test)] mod tests { use super::*; use super::super::a::A; }",
    );
    write("http/mod.rs", "pub fn router() {}");
    write("server/mod.rs", "fn main() { crate::http::router(); }");
    write("extra.rs", "");
    let problems = check(src, &[("core", 2), ("http", 4), ("server", 5)]);
    let all = problems.join("\n");
    assert!(
        all.contains("src/core/a.rs: `crate::http` (core, layer 2, imports http, layer 4)"),
        "{all}"
    );
    assert!(all.contains("cycle among core::a, core::b:"), "{all}");
    assert!(
        all.contains("core::a → core::b: src/core/a.rs: `crate::core::b::B`"),
        "{all}"
    );
    assert!(
        all.contains("core::b → core::a: src/core/b.rs: `super::a::A`"),
        "{all}"
    );
    assert!(all.contains("`extra` has no layer"), "{all}");
    assert!(
        !all.contains("crate::server"),
        "comments and strings are no imports: {all}"
    );
    assert_eq!(problems.len(), 3, "{all}");
}

/// One problem per line, in a stable order.
fn check(src: &Path, layers: &[(&str, u8)]) -> Vec<String> {
    let files: Vec<(Vec<String>, PathBuf)> = rust_files(src)
        .into_iter()
        .filter(|f| f != &src.join("main.rs"))
        .map(|f| (module_of(src, &f), f))
        .collect();
    let mut modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut imports = Vec::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (inline, path) in paths(&tokens(&text)) {
            let mut from = module.clone();
            from.extend(inline.iter().cloned());
            modules.insert(from.clone());
            if let Some(target) = resolve(&from, &path) {
                imports.push(Import {
                    file: display(src, file),
                    from,
                    written: path.join("::"),
                    target,
                });
            }
        }
    }
    let layer = |part: &str| layers.iter().find(|(p, _)| *p == part).map(|(_, l)| *l);
    let mut problems = Vec::new();

    let parts: BTreeSet<&String> = modules.iter().filter_map(|m| m.first()).collect();
    for part in parts {
        if layer(part).is_none() {
            problems.push(format!(
                "`{part}` has no layer: move it under one of {:?} or give it one in tests/it/layers.rs",
                layers.iter().map(|(p, _)| *p).collect::<Vec<_>>()
            ));
        }
    }

    for i in &imports {
        let target = longest_module(&modules, &i.target);
        let (Some(from), Some(to)) = (i.from.first(), target.first()) else {
            continue;
        };
        if let (Some(lf), Some(lt)) = (layer(from), layer(to)) {
            if lt > lf {
                problems.push(format!(
                    "{}: `{}` ({from}, layer {lf}, imports {to}, layer {lt})",
                    i.file, i.written
                ));
            }
        }
    }

    // Sibling edges: the two children of the deepest common ancestor that the import crosses between.
    let mut edges: BTreeMap<Vec<String>, BTreeMap<(String, String), &Import>> = BTreeMap::new();
    for i in &imports {
        let target = longest_module(&modules, &i.target);
        let common = i
            .from
            .iter()
            .zip(&target)
            .take_while(|(a, b)| a == b)
            .count();
        if common < i.from.len() && common < target.len() {
            let parent = i.from[..common].to_vec();
            let edge = (i.from[common].clone(), target[common].clone());
            edges.entry(parent).or_default().entry(edge).or_insert(i);
        }
    }
    for (parent, edges) in &edges {
        let name = |m: &str| {
            let mut p = parent.clone();
            p.push(m.to_owned());
            p.join("::")
        };
        for group in cycles(edges.keys()) {
            let mut line = format!(
                "cycle among {}:",
                group.iter().map(|m| name(m)).collect::<Vec<_>>().join(", ")
            );
            for ((a, b), i) in edges {
                if group.contains(a) && group.contains(b) {
                    line.push_str(&format!(
                        "\n    {} → {}: {}: `{}`",
                        name(a),
                        name(b),
                        i.file,
                        i.written
                    ));
                }
            }
            problems.push(line);
        }
    }
    problems
}

struct Import {
    file: String,
    /// The module the path is written in (inline modules included).
    from: Vec<String>,
    written: String,
    /// The absolute path it names: modules, then perhaps an item.
    target: Vec<String>,
}

fn display(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    format!("src/{}", rel.display())
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_owned());
    }
    parts
}

/// `crate::…` is absolute; `super::` climbs from the module the path is written in, `self::` stays.
fn resolve(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut segs = path.iter().peekable();
    let mut out: Vec<String> = match segs.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segs.next();
            Vec::new()
        }
        Some("self") | Some("super") => from.to_vec(),
        _ => return None,
    };
    while let Some(s) = segs.peek() {
        match s.as_str() {
            "self" => {}
            "super" => {
                out.pop()?;
            }
            _ => break,
        }
        segs.next();
    }
    out.extend(segs.cloned());
    Some(out)
}

fn longest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
        .unwrap_or_default()
}

/// The groups of modules that reach each other (strongly connected, more than one member), sorted.
fn cycles<'a>(edges: impl Iterator<Item = &'a (String, String)>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().insert(b);
        next.entry(b).or_default();
    }
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for &m in &next[n] {
                if seen.insert(m) {
                    todo.push(m);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> = next.keys().map(|&n| (n, reach(n))).collect();
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for (&n, r) in &reaches {
        let group: Vec<String> = r
            .iter()
            .filter(|m| reaches[*m].contains(n))
            .map(|m| m.to_string())
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

struct Token {
    text: String,
}

/// Identifiers and the punctuation paths are made of; comments, strings and chars are dropped.
fn tokens(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let push = |out: &mut Vec<Token>, s: &str| out.push(Token { text: s.to_owned() });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' {
            i = skip_string(b, i + 1);
        } else if (c == b'r' || (c == b'b' && b.get(i + 1) == Some(&b'r')))
            && raw_string_start(b, i).is_some()
        {
            let (hashes, body) = raw_string_start(b, i).expect("checked");
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i = body;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
        } else if c == b'b' && b.get(i + 1) == Some(&b'"') {
            i = skip_string(b, i + 2);
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): a lifetime has no closing quote.
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else {
                let ch_len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                if b.get(i + 1 + ch_len) == Some(&b'\'') {
                    i += 2 + ch_len;
                } else {
                    i += 1;
                }
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            push(&mut out, &text[start..i]);
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            push(&mut out, "::");
            i += 2;
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            push(&mut out, "0");
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            push(&mut out, &text[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

fn skip_string(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// `r"`, `r#"`, `br##"`…: the number of hashes and where the body starts.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i + if b[i] == b'b' { 2 } else { 1 };
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

/// Every path that starts with `crate`, `super` or `self` followed by `::`, with use-tree groups expanded,
/// each with the inline modules (`mod tests { … }`) it is written in.
fn paths(toks: &[Token]) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].text.as_str();
        match t {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod"
                if toks.get(i + 2).is_some_and(|t| t.text == "{")
                    && toks.get(i + 1).is_some_and(|t| is_ident(&t.text)) =>
            {
                inline.push((toks[i + 1].text.clone(), depth));
            }
            "crate" | "super" | "self"
                if toks.get(i + 1).is_some_and(|t| t.text == "::")
                    && !(i > 0 && (toks[i - 1].text == "$" || toks[i - 1].text == "::")) =>
            {
                let here: Vec<String> = inline.iter().map(|(m, _)| m.clone()).collect();
                let mut found = Vec::new();
                let end = use_tree(toks, i, Vec::new(), &mut found);
                out.extend(found.into_iter().map(|p| (here.clone(), p)));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_ident(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
}

/// Parses `a::b::{c, d::e}` from `i`; pushes each leaf path onto `found` and returns the index after it.
fn use_tree(
    toks: &[Token],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match toks.get(i).map(|t| t.text.as_str()) {
            Some("{") => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| t.text.as_str()) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        None => return i,
                        _ => i = use_tree(toks, i, prefix.clone(), found),
                    }
                }
            }
            Some("*") => {
                found.push(prefix);
                return i + 1;
            }
            Some(s) if is_ident(s) => {
                // `self` inside a group names the group's prefix itself.
                if s != "self" || prefix.is_empty() {
                    prefix.push(s.to_owned());
                }
                i += 1;
                if toks.get(i).is_some_and(|t| t.text == "::") {
                    i += 1;
                } else {
                    found.push(prefix);
                    return i;
                }
            }
            _ => {
                if !prefix.is_empty() {
                    found.push(prefix);
                }
                return i;
            }
        }
    }
}
