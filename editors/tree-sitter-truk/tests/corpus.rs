//! The tree-sitter grammar against the compiler: every Truk program of the repository and of
//! the conformance corpus (`../shared/conformance` beside the project, when present) that
//! the compiler's parser accepts parses here without an ERROR or MISSING node; broken
//! programs do get one; the highlight query compiles and captures what it should.

use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Query, QueryCursor, StreamingIterator, Tree};

mod common;
use common::{compiler_keywords, project_root};

fn truk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            truk_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "truk") {
            out.push(p);
        }
    }
}

fn parse(src: &str) -> Tree {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_truk::LANGUAGE.into()).unwrap();
    parser.parse(src, None).unwrap()
}

/// Where the first ERROR or MISSING node is, and what it covers.
fn first_error(node: Node, src: &str) -> Option<String> {
    if node.is_error() || node.is_missing() {
        let p = node.start_position();
        let text = node.utf8_text(src.as_bytes()).unwrap_or("").chars().take(60).collect::<String>();
        return Some(format!("{}:{}: {} {:?}", p.row + 1, p.column + 1, node.kind(), text));
    }
    if !node.has_error() {
        return None;
    }
    let mut cursor = node.walk();
    let children: Vec<Node> = node.children(&mut cursor).collect();
    children.into_iter().find_map(|c| first_error(c, src))
}

fn compiler_parses(src: &str) -> bool {
    truk_core::syntax::parser::parse_module(src, 0).1.is_empty()
}

#[test]
fn every_program_the_compiler_parses_parses_without_error_nodes() {
    let root = project_root();
    let mut files = vec![];
    for dir in ["tests/lang", "examples", "std", "bench", "compiler/tests", "runtime-rs"] {
        truk_files(&root.join(dir), &mut files);
    }
    let conformance = root.join("../shared/conformance");
    if conformance.is_dir() {
        truk_files(&conformance, &mut files);
    } else {
        eprintln!("the conformance corpus is not at {} (only the repository's programs)", conformance.display());
    }
    let (mut checked, mut failures) = (0, vec![]);
    for f in &files {
        // Non-UTF-8 sources (tests of the compiler's own errors) are not programs.
        let Ok(src) = std::fs::read_to_string(f) else { continue };
        if !compiler_parses(&src) {
            continue;
        }
        checked += 1;
        if let Some(e) = first_error(parse(&src).root_node(), &src) {
            failures.push(format!("{}:{e}", f.strip_prefix(&root).unwrap_or(f).display()));
        }
    }
    eprintln!("{checked} programs the compiler parses, of {} files", files.len());
    assert!(checked >= 150, "only {checked} programs found under {}", root.display());
    assert!(failures.is_empty(), "{} of {checked} programs have error nodes:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn broken_programs_get_error_nodes() {
    for src in [
        "fn main() : i32 { return 0 }",
        "fn main( : i32 {}",
        "struct P { x: }",
        "fn f() { var x: i32 = ; }",
        "fn f() { if { } }",
        "fn f() { x = = 1; }",
    ] {
        assert!(first_error(parse(src).root_node(), src).is_some(), "no error node for {src:?}: {}", parse(src).root_node().to_sexp());
        assert!(!compiler_parses(src), "the compiler accepts {src:?}");
    }
}

#[test]
fn conditions_keep_their_blocks_and_struct_literals_their_fields() {
    let src = "fn f(a: i32, b: i32) : i32 {\n  if a == b { return 1; }\n  var p: P = P { x: 1, y: 2 };\n  if p.x == 1 {}\n  match a { case 1 => return 2, _ => {} }\n  return 0;\n}\n";
    let tree = parse(src);
    assert_eq!(first_error(tree.root_node(), src), None, "{}", tree.root_node().to_sexp());
    let sexp = tree.root_node().to_sexp();
    assert_eq!(sexp.matches("(struct_literal").count(), 1, "{sexp}");
    assert_eq!(sexp.matches("(if_statement").count(), 2, "{sexp}");
    assert!(sexp.contains("(match_arm pattern: (integer) body: (return_statement (integer)))"), "{sexp}");
}

/// The captures of the highlight query on `src`, as (capture, text).
fn highlights(src: &str) -> Vec<(String, String)> {
    let lang = tree_sitter_truk::LANGUAGE.into();
    let query = Query::new(&lang, tree_sitter_truk::HIGHLIGHTS_QUERY).expect("the highlight query compiles");
    let tree = parse(src);
    let mut cursor = QueryCursor::new();
    let mut out = vec![];
    let mut matches = cursor.matches(&query, tree.root_node(), src.as_bytes());
    while let Some(m) = matches.next() {
        for c in m.captures {
            let name = query.capture_names()[c.index as usize].to_string();
            out.push((name, c.node.utf8_text(src.as_bytes()).unwrap().to_string()));
        }
    }
    out
}

#[test]
fn the_highlight_query_captures_keywords_types_literals_and_comments() {
    let src = "// hi\nextern fn printf(fmt: *i8, ...args) : i32;\nfn main() : i32 {\n  var s: []u8 = make(@u8, 3);\n  return len(s) as i32 + 0x1F;\n}\n";
    let caps = highlights(src);
    for (capture, text) in [
        ("comment", "// hi"),
        ("keyword", "extern"),
        ("keyword", "fn"),
        ("keyword", "var"),
        ("keyword.control", "return"),
        ("keyword.operator", "as"),
        ("type.builtin", "i32"),
        ("function", "main"),
        ("function.builtin", "make"),
        ("function.builtin", "len"),
        ("variable.parameter", "fmt"),
        ("number", "0x1F"),
    ] {
        assert!(caps.iter().any(|(c, t)| c == capture && t == text), "no @{capture} on {text:?}: {caps:?}");
    }
}

#[test]
fn every_keyword_of_the_compiler_is_highlighted() {
    let keywords = compiler_keywords();
    assert!(keywords.len() >= 20, "{keywords:?}");
    for kw in keywords {
        assert!(tree_sitter_truk::HIGHLIGHTS_QUERY.contains(&format!("\"{kw}\"")), "highlights.scm misses {kw:?}");
    }
}

#[test]
fn the_committed_parser_is_generated_from_grammar_js() {
    let tool = std::env::var("TREE_SITTER").unwrap_or_else(|_| "tree-sitter".to_string());
    if std::process::Command::new(&tool).arg("--version").output().is_err() {
        eprintln!("skipping: the tree-sitter CLI is missing (cargo install tree-sitter-cli --version 0.25.10)");
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("tree-sitter-truk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["grammar.js", "tree-sitter.json"] {
        std::fs::copy(here.join(f), dir.join(f)).unwrap();
    }
    let out = std::process::Command::new(&tool).arg("generate").current_dir(&dir).output().unwrap();
    let generated = std::fs::read_to_string(dir.join("src/parser.c"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "tree-sitter generate: {}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read_to_string(here.join("src/parser.c")).unwrap();
    assert!(generated.unwrap() == committed, "src/parser.c is stale: run `tree-sitter generate` in editors/tree-sitter-truk");
}
