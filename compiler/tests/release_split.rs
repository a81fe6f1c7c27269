//! Split optimization of release builds (`driver/opt_split.rs`): a big release program is
//! optimized in parts after the whole module's interprocedural start, and behaves as the
//! same program optimized whole: globals, the shared area, function values and their
//! addresses, small helpers copied into several parts, recursion, tests reached across
//! parts, the same fingerprint. Big programs split by themselves; small ones stay whole.
//! `TRUK_OPT_PARTS=N` sets the number of parts.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{text, truk, Scratch};
mod fleet_support;
use fleet_support::Fleet;

/// Functions that survive the whole module's constant propagation (they depend on the
/// program's arguments), a helper small enough to be copied, data in part 0.
const PROG: &str = "extern fn printf(fmt: *i8, ...args) : i32;
extern fn atoi(s: *i8) : i32;

struct Pair { a: i64, b: i64 }

var counter: i64 = 5;
var greeting: *i8 = \"hello\";
shared var hits: u64 = 7;

fn clamp(x: i64) : i64 {
    if x > 1000 {
        return 1000;
    }
    return x;
}

fn twice(x: i64) : i64 {
    counter += 1;
    return clamp(x * 2);
}

var op: fn(i64) : i64 = twice;

fn pair(a: i64) : Pair {
    var p: Pair = Pair{a: clamp(a), b: counter};
    return p;
}

fn fib(n: i64) : i64 {
    if n < 2 {
        return n;
    }
    return fib(n - 1) + fib(n - 2);
}

fn sum(xs: []i64) : i64 {
    var t: i64 = 0;
    for var k: u64 = 0; k < len(xs); k += 1 {
        t += clamp(xs[k]);
    }
    return t;
}

fn total(p: Pair) : i64 {
    hits += 1;
    var xs: []i64 = make(@i64, 5 as u64);
    defer delete(xs);
    for var k: u64 = 0; k < len(xs); k += 1 {
        xs[k] = p.a * (k as i64) + fib(p.b);
    }
    return sum(xs) + clamp(p.b);
}

fn main() : i32 {
    var n: i64 = atoi(\"20\") as i64;
    var p: Pair = pair(op(n));
    printf(\"%s %lld %lld %llu\\n\", greeting, total(p), counter, hits);
    if op == twice {
        printf(\"one address\\n\");
    }
    return 3;
}
";

/// Builds `src` in release with `parts` parts (`None`: the compiler's choice) into `out`.
fn build(s: &Scratch, src: &Path, out: &str, parts: Option<u32>) -> (PathBuf, String) {
    let exe = s.0.join(out);
    let mut cmd = truk();
    cmd.env_remove("TRUK_OPT_PARTS").env_remove("TRUK_CODEGEN_PARTS");
    if let Some(n) = parts {
        cmd.env("TRUK_OPT_PARTS", n.to_string());
    }
    let o = cmd.arg("build").arg("--release").arg(src).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success(), "build with {parts:?} parts failed: {}", text(&o.stderr));
    (exe, text(&o.stdout))
}

/// The symbols a split build gives what one part reaches in another.
fn split_symbols(exe: &Path) -> Vec<String> {
    let o = Command::new("nm").arg(exe).output().expect("nm (binutils)");
    text(&o.stdout).lines().filter_map(|l| l.split_whitespace().nth(2)).filter(|s| s.ends_with(".t")).map(str::to_string).collect()
}

#[test]
fn a_release_program_optimized_in_parts_behaves_as_whole() {
    let s = Scratch::new("optsplit-same");
    let src = s.write("prog.truk", PROG);
    let (whole, whole_note) = build(&s, &src, "whole", Some(1));
    assert!(split_symbols(&whole).is_empty());
    // Each in a fleet of its own: `hits` starts at 7 in all.
    let fa = Fleet::new("optsplit-whole", &whole);
    let a = fa.command(&whole, &[]).output().unwrap();
    // twice(20) = 40, counter 6; fib(6) = 8: (0 + 1 + 2 + 3 + 4) * 40 + 5 * 8, + 6.
    assert_eq!(text(&a.stdout), "hello 446 6 8\none address\n");
    assert_eq!(a.status.code(), Some(3));
    for parts in [2, 3, 4] {
        let (split, split_note) = build(&s, &src, &format!("split{parts}"), Some(parts));
        // The fingerprint is of the sources and the layout, not of how the object was made.
        assert_eq!(whole_note.replace("whole", "X"), split_note.replace(&format!("split{parts}"), "X"));
        let syms = split_symbols(&split);
        // Data lives in part 0, reached from the others.
        assert!(syms.iter().any(|s| s == "counter.t"), "{parts} parts: no counter.t in {syms:?}");
        let fb = Fleet::new(&format!("optsplit-split{parts}"), &split);
        let b = fb.command(&split, &[]).output().unwrap();
        assert_eq!((text(&b.stdout), b.status.code()), (text(&a.stdout), a.status.code()), "{parts} parts");
    }
}

#[test]
fn tests_in_other_parts_than_the_runner_run_in_release() {
    common::assert_tests_of_every_part_run(&Scratch::new("optsplit-tests"), ("TRUK_OPT_PARTS", "3"), &["--release"]);
}

/// A chain of `n` units in the shape of `bench/compile/gen.py`'s program: each `step{i}`
/// calls a leaf and `step{i-1}`; `main` starts a chain every 20 units.
fn chain(n: usize) -> String {
    let mut p = String::from("extern fn atoi(s: *i8) : i32;\n");
    for i in 0..n {
        p += &format!("fn leaf{i}(x: i64) : i64 {{\n    if x % 3 == 0 {{\n        return x / 3;\n    }}\n    return x + {i};\n}}\n");
        let below = if i == 0 { "0".to_string() } else { format!("step{}(v, n - 1)", i - 1) };
        p += &format!(
            "fn step{i}(v: i64, n: i64) : i64 {{\n    if n <= 0 {{\n        return v;\n    }}\n    var t: i64 = 0;\n    for var k: i64 = 0; k < 8; k += 1 {{\n        t += leaf{i}(v + k);\n    }}\n    return t % 1000 + {below};\n}}\n"
        );
    }
    p += "fn main() : i32 {\n    var v: i64 = atoi(\"3\") as i64;\n    var s: i64 = 0;\n";
    for i in (0..n).step_by(20) {
        p += &format!("    s += step{i}(v, 4);\n");
    }
    p += "    return (s % 200) as i32;\n}\n";
    p
}

#[test]
fn large_release_programs_split_by_themselves_and_small_ones_stay_whole() {
    let s = Scratch::new("optsplit-auto");
    let big = s.write("big.truk", &chain(600));
    let small = s.write("small.truk", &chain(40));
    let (big_auto, _) = build(&s, &big, "big", None);
    let (big_whole, _) = build(&s, &big, "big1", Some(1));
    let (small_auto, _) = build(&s, &small, "small", None);
    assert!(!split_symbols(&big_auto).is_empty(), "the large program was not split");
    assert!(split_symbols(&big_whole).is_empty());
    assert!(split_symbols(&small_auto).is_empty(), "the small program was split");
    let status = |e: &Path| Command::new(e).status().unwrap().code();
    assert_eq!(status(&big_auto), status(&big_whole));
    assert!(status(&big_auto).is_some_and(|c| c > 0));
}
