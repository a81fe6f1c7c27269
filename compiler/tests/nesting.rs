//! The nesting limit (`syntax::depth`, 1000 levels): every construct that nests compiles at
//! the limit and is one clear error just beyond it, and no depth crashes the compiler.

mod common;
use common::{text, truk, Scratch};

/// A program whose construct nests `n` times.
type Gen = fn(usize) -> String;

/// Each construct: its name, its program, the largest `n` within the limit, whether the
/// program at that `n` builds (else: another error, not the limit), and where the error for
/// `n + 1` points (`LINE:COL`).
const CASES: &[(&str, Gen, usize, bool, &str)] = &[
    ("cast", |n| format!("fn main() : i32 {{ var x: i32 = 0; return x{}; }}\n", " as i32".repeat(n)), 998, true, "1:42"),
    ("index", |n| format!("fn main() : i32 {{\n var a: {}i32;\n return a{};\n}}\n", "[1]".repeat(n), "[0]".repeat(n)), 998, true, "2:3004"),
    ("arrow", |n| format!("struct S {{ p: *S, x: i32 }}\nfn main() : i32 {{ var s: S; s.p = &s; var q: *S = &s; return q{}->x; }}\n", "->p".repeat(n)), 997, true, "2:62"),
    ("field", |n| format!("struct S {{ x: i32 }}\nfn main() : i32 {{ var s: S; return s{}; }}\n", ".x".repeat(n)), 998, false, "2:36"),
    ("call", |n| format!("fn f() : i32 {{ return 0; }}\nfn main() : i32 {{ return f{}; }}\n", "()".repeat(n)), 998, false, "2:26"),
    ("else if", |n| format!("fn main() : i32 {{ var x: i32 = 0; if x == 0 {{ return 0; }}{} return 2; }}\n", " else if x == 1 { return 1; }".repeat(n)), 997, true, "1:28996"),
    ("binary", |n| format!("fn main() : i32 {{ var x: i32 = 1; return x{}; }}\n", " + x".repeat(n)), 998, true, "1:42"),
    ("parentheses", |n| format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(n), ")".repeat(n)), 998, true, "1:1025"),
    ("unary", |n| format!("fn main() : i32 {{ var x: i32 = 1; return {}x; }}\n", "-".repeat(n)), 998, true, "1:1041"),
    ("blocks", |n| format!("fn main() : i32 {}return 0;{}\n", "{ ".repeat(n), " }".repeat(n)), 999, true, "1:2024"),
    ("pointer type", |n| format!("var x: {}i32;\nfn main() : i32 {{ return 0; }}\n", "*".repeat(n)), 999, true, "1:1008"),
    ("array type", |n| format!("var x: {}i32;\nfn main() : i32 {{ return 0; }}\n", "[1]".repeat(n)), 999, true, "1:3006"),
    ("lambda", |n| format!("fn main() : i32 {{\n var f = {}0;{}\n return f();\n}}\n", "fn() : i32 { var g = ".repeat(n), " return 0; };".repeat(n)), 499, true, "2:10496"),
    ("struct literal", |n| format!("struct S {{ p: *S }}\nfn main() : i32 {{ var s: S = {}nil{}; return 0; }}\n", "S { p: &".repeat(n), "}".repeat(n)), 499, false, "2:4029"),
    ("array literal", |n| format!("fn main() : i32 {{ var a = {}7{}; return 0; }}\n", "[".repeat(n), "]".repeat(n)), 998, true, "1:1026"),
    ("call argument", |n| format!("fn f(a: i32) : i32 {{ return a; }}\nfn main() : i32 {{ return {}1{}; }}\n", "f(".repeat(n), ")".repeat(n)), 998, true, "2:2024"),
];

/// Build `src` to an object file: (exit code, stderr). A signal is a test failure.
fn build(dir: &Scratch, name: &str, src: &str) -> (i32, String) {
    let file = dir.write(&format!("{name}.truk"), src);
    let out = truk().args(["build", "--emit", "obj", "-o"]).arg(dir.0.join(format!("{name}.o"))).arg(&file).output().unwrap();
    let err = text(&out.stderr);
    let code = out.status.code().unwrap_or_else(|| panic!("{name}: the compiler died: {:?}\n{}", out.status, first_lines(&err)));
    assert!(!err.contains("panicked"), "{name}: the compiler panicked:\n{}", first_lines(&err));
    (code, err)
}

fn first_lines(s: &str) -> String {
    s.lines().take(6).map(|l| l.chars().take(200).collect::<String>() + "\n").collect()
}

#[test]
fn every_construct_compiles_at_the_limit_and_is_an_error_beyond_it() {
    let dir = Scratch::new("nesting");
    for (i, &(what, gen, n, builds, at)) in CASES.iter().enumerate() {
        let name = format!("at{i}");
        let (code, err) = build(&dir, &name, &gen(n));
        assert!(!err.contains("nested too deeply"), "{what} x{n} is within the limit:\n{}", first_lines(&err));
        assert_eq!(code == 0, builds, "{what} x{n}:\n{}", first_lines(&err));
        let name = format!("beyond{i}");
        let (code, err) = build(&dir, &name, &gen(n + 1));
        assert_eq!(code, 1, "{what} x{}", n + 1);
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("error: ") && first.contains("nested too deeply") && first.ends_with("the limit is 1000"), "{what} x{}: {first}", n + 1);
        assert!(err.contains(&format!("--> {}:{at}\n", dir.0.join(format!("{name}.truk")).display())), "{what} x{}:\n{}", n + 1, first_lines(&err));
    }
}

/// Chains far beyond the limit: built without recursion, measured without recursion, not
/// dropped (each crashed the compiler before the limit).
#[test]
fn very_long_chains_are_an_error_not_a_crash() {
    let dir = Scratch::new("chains");
    for (i, &(what, gen, _, _, _)) in CASES.iter().enumerate().filter(|(_, c)| ["cast", "call", "binary", "else if", "parentheses", "unary"].contains(&c.0)) {
        let (code, err) = build(&dir, &format!("long{i}"), &gen(100_000));
        assert_eq!(code, 1, "{what}");
        assert!(err.lines().next().unwrap_or("").ends_with("the limit is 1000"), "{what}:\n{}", first_lines(&err));
        // The snippet shows a window of the long line, not all of it.
        assert!(err.lines().all(|l| l.len() < 400), "{what}: a snippet line is {} long", err.lines().map(str::len).max().unwrap_or(0));
    }
}
