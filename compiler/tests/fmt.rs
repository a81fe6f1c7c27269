//! `truk fmt`: the layout of a sample, and over every program of tests/lang and the
//! conformance corpus: the same tokens and comments, the same AST, idempotent.

mod common;
use std::path::{Path, PathBuf};

use common::{text, truk, Scratch};
use truk_core::fmt::{format_source, shape};

fn fmt(src: &str) -> String {
    format_source(src, Path::new("t.truk")).unwrap()
}

#[test]
fn sample_takes_the_canonical_layout() {
    let src = "// lead\nstruct P{x:i32,\n    y:i32}\nenum E:u8{A=1,B}\n\n\n\nfn f(p:*P,a:[]*P,m:[2][3]i32):i32{\n    var q:P=P{x:1,y:-2};   // trailing \t\n  if(p->x>0&&!(a[0]==nil)){return -p->x*2;}\n  for ;;{break;}\n  match m[1][2]{\ncase 1=>return 1,\n_=>{}\n  }\n    return m[0][1]*(q.x+q.y) as i32 +\n  f(p, a,\n    m);\n}\n";
    let want = "// lead\nstruct P { x: i32,\n  y: i32 }\nenum E : u8 { A = 1, B }\n\nfn f(p: *P, a: []*P, m: [2][3]i32) : i32 {\n  var q: P = P{x: 1, y: -2}; // trailing\n  if (p->x > 0 && !(a[0] == nil)) { return -p->x * 2; }\n  for ; ; { break; }\n  match m[1][2] {\n    case 1 => return 1,\n    _ => {}\n  }\n  return m[0][1] * (q.x + q.y) as i32 +\n    f(p, a,\n      m);\n}\n";
    assert_eq!(fmt(src), want);
    assert_eq!(fmt(want), want);
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            corpus_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "truk") {
            out.push(p);
        }
    }
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn every_corpus_program_keeps_its_tokens_comments_and_ast_and_formats_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![];
    corpus_files(&root.join("tests/lang"), &mut files);
    let shared = root.join("../shared/conformance");
    if shared.is_dir() {
        corpus_files(&shared, &mut files);
    } else {
        eprintln!("skipping the conformance corpus: {} is missing", shared.display());
    }
    let mut formatted = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let (before, diags) = truk_core::syntax::parser::parse_module(&src, 0);
        if !diags.is_empty() {
            continue; // programs that must not parse have no layout
        }
        let once = format_source(&src, f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // Only whitespace outside tokens changed: every token and comment is kept, in order.
        assert_eq!(squeeze(&once), squeeze(&src), "{}", f.display());
        let (after, diags) = truk_core::syntax::parser::parse_module(&once, 0);
        assert!(diags.is_empty(), "{}", f.display());
        assert_eq!(shape(&after), shape(&before), "{}", f.display());
        assert_eq!(format_source(&once, f).unwrap(), once, "{} is not idempotent", f.display());
        formatted += 1;
    }
    assert!(formatted > 150, "only {formatted} programs formatted");
}

#[test]
fn check_lists_what_would_change_and_fmt_rewrites_it() {
    let d = Scratch::new("fmt");
    let good = d.write("src/good.truk", "fn main() : i32 {\n  return 0;\n}\n");
    let bad = d.write("src/sub/bad.truk", "fn main():i32{\n    return 0;\n}\n");
    let broken = d.write("broken.truk", "fn main() : i32 {\n  return 0\n}\n");
    let out = truk().args(["fmt", "--check"]).arg(d.0.join("src")).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), format!("{}\n", bad.display()));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "fn main():i32{\n    return 0;\n}\n");
    let out = truk().arg("fmt").arg(d.0.join("src")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), std::fs::read_to_string(&good).unwrap());
    let out = truk().args(["fmt", "--check"]).arg(d.0.join("src")).output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    // A file that does not parse: its diagnostics, and the file left alone.
    let out = truk().arg("fmt").arg(&broken).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("broken.truk:2:"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "fn main() : i32 {\n  return 0\n}\n");
}

#[test]
fn nesting_at_the_parser_s_limit_formats_on_any_thread() {
    // Blocks and parentheses nested as deep as the parser allows: the formatter parses on
    // the compiler's stack, not on its caller's (here a small one).
    let n = 990;
    let src = format!("fn main() : i32 {{\n{}{}  return {}1{};\n}}\n", "{\n".repeat(n), "}\n".repeat(n), "(".repeat(n), ")".repeat(n));
    let small = std::thread::Builder::new().stack_size(128 << 10);
    let (src, once, twice) = small
        .spawn(move || {
            let once = fmt(&src);
            let twice = fmt(&once);
            (src, once, twice)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(squeeze(&once), squeeze(&src));
    assert_eq!(twice, once);
}
