//! Split codegen (`driver/codegen.rs`): a program emitted in several parts, compiled on
//! several threads and linked, behaves as the same program in one part: globals, the shared
//! area, function values and tests reached across parts, the same fingerprint, gdb stops in
//! a function of every part. Large programs split by themselves; small ones stay whole.
//! `TRUK_CODEGEN_PARTS=N` sets the number of parts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{text, truk, Scratch};
mod fleet_support;
use fleet_support::Fleet;

/// Functions in id order `twice`, `make`, `total`, `main`: with four parts, one each.
const PROG: &str = "extern fn printf(fmt: *i8, ...args) : i32;

struct Pair { a: i64, b: i64 }

var counter: i64 = 5;
var greeting: *i8 = \"hello\";
shared var hits: u64 = 7;

fn twice(x: i64) : i64 {
    counter += 1;
    return x * 2;
}

var op: fn(i64) : i64 = twice;

fn make(a: i64) : Pair {
    var p: Pair = Pair{a: a, b: counter};
    return p;
}

fn total(p: Pair) : i64 {
    hits += 1;
    return p.a + p.b;
}

fn main() : i32 {
    var p: Pair = make(op(20));
    printf(\"%s %lld %lld %llu\\n\", greeting, total(p), counter, hits);
    if op == twice {
        printf(\"one address\\n\");
    }
    return 3;
}
";

/// Builds `src` with `parts` parts (`None`: the compiler's choice) into `out`.
fn build(s: &Scratch, src: &Path, out: &str, parts: Option<u32>, args: &[&str]) -> (PathBuf, String) {
    let exe = s.0.join(out);
    let mut cmd = truk();
    cmd.env_remove("TRUK_CODEGEN_PARTS");
    if let Some(n) = parts {
        cmd.env("TRUK_CODEGEN_PARTS", n.to_string());
    }
    let o = cmd.arg("build").args(args).arg(src).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success(), "build with {parts:?} parts failed: {}", text(&o.stderr));
    (exe, text(&o.stdout))
}

/// The symbols of `exe` that a split build gives the functions and globals of the program.
fn split_symbols(exe: &Path) -> Vec<String> {
    let o = Command::new("nm").arg(exe).output().expect("nm (binutils)");
    text(&o.stdout).lines().filter_map(|l| l.split_whitespace().nth(2)).filter(|s| s.ends_with(".t")).map(str::to_string).collect()
}

fn run(fleet: &Fleet, exe: &Path) -> Output {
    fleet.command(exe, &[]).output().unwrap()
}

#[test]
fn a_program_in_four_parts_behaves_as_in_one() {
    let s = Scratch::new("split-same");
    let src = s.write("prog.truk", PROG);
    let (whole, whole_note) = build(&s, &src, "whole", Some(1), &[]);
    let (split, split_note) = build(&s, &src, "split", Some(4), &[]);
    // The fingerprint is of the sources and the layout, not of how the object was made.
    assert_eq!(whole_note.replace("whole", "X"), split_note.replace("split", "X"));
    assert!(split_symbols(&whole).is_empty());
    let syms = split_symbols(&split);
    for want in ["twice.t", "make.t", "total.t", "truk_main.t", "counter.t", "op.t"] {
        assert!(syms.iter().any(|s| s == want), "no {want} in {syms:?}");
    }
    // Each in a fleet of its own: `hits` starts at 7 in both.
    let (fa, fb) = (Fleet::new("split-whole", &whole), Fleet::new("split-split", &split));
    let (a, b) = (run(&fa, &whole), run(&fb, &split));
    assert_eq!(text(&a.stdout), "hello 46 6 8\none address\n");
    assert_eq!(a.status.code(), Some(3));
    assert_eq!((text(&b.stdout), b.status.code()), (text(&a.stdout), a.status.code()));
}

#[test]
fn tests_in_other_parts_than_the_runner_run() {
    common::assert_tests_of_every_part_run(&Scratch::new("split-tests"), ("TRUK_CODEGEN_PARTS", "3"), &[]);
}

#[test]
fn gdb_stops_in_a_function_of_every_part() {
    if !Command::new("gdb").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: gdb is missing (ci/setup installs it)");
        return;
    }
    let s = Scratch::new("split-gdb");
    let src = s.write("prog.truk", PROG);
    let (exe, _) = build(&s, &src, "split", Some(4), &[]);
    let fleet = Fleet::new("split-gdb", &exe);
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch"]).env("TRUK_FLEET_NS", &fleet.ns);
    for c in ["break twice", "break make", "break total", "break main", "run", "bt 1", "continue", "bt 1", "continue", "bt 1", "continue", "bt 1", "print counter", "print shared.hits"] {
        cmd.arg("-ex").arg(c);
    }
    let o = cmd.arg(&exe).output().unwrap();
    let out = text(&o.stdout) + &text(&o.stderr);
    // Each breakpoint on its function's first statement, in call order.
    let stops: Vec<&str> = out.lines().filter(|l| l.starts_with("#0")).collect();
    let order: Vec<&str> = ["main", "twice", "make", "total"].into_iter().filter(|f| stops.iter().any(|l| l.contains(&format!(" {f} (")))).collect();
    assert_eq!(order.len(), 4, "{out}");
    for (stop, f) in stops.iter().zip(["main", "twice", "make", "total"]) {
        assert!(stop.contains(&format!(" {f} (")) && stop.contains("prog.truk:"), "{stop} for {f}:\n{out}");
    }
    // Stopped at the start of `total`: `hits` not yet counted, `counter` by `twice` already.
    assert!(out.contains("$1 = 6\n") && out.contains("$2 = 7\n"), "{out}");
}

/// A program of `n` functions of a few statements each.
fn many_functions(n: usize) -> String {
    let mut p = String::from("var acc: i64 = 0;\n");
    for i in 0..n {
        p += &format!("fn step{i}(x: i64) : i64 {{\n    var y: i64 = x + {i};\n    if y % 3 == 0 {{\n        y = y / 3;\n    }}\n    acc += y;\n    return y;\n}}\n");
    }
    p += "fn main() : i32 {\n    var t: i64 = 0;\n";
    for i in 0..n {
        p += &format!("    t += step{i}(t);\n");
    }
    p += "    return (t % 100) as i32;\n}\n";
    p
}

#[test]
fn large_programs_split_by_themselves_and_small_ones_stay_whole() {
    let s = Scratch::new("split-auto");
    let big = s.write("big.truk", &many_functions(1500));
    let small = s.write("small.truk", &many_functions(20));
    let (big_auto, _) = build(&s, &big, "big", None, &[]);
    let (big_whole, _) = build(&s, &big, "big1", Some(1), &[]);
    let (small_auto, _) = build(&s, &small, "small", None, &[]);
    let (big_release, _) = build(&s, &big, "bigr", None, &["--release"]);
    assert!(split_symbols(&big_auto).len() > 1500, "the large program was not split");
    assert!(split_symbols(&small_auto).is_empty(), "the small program was split");
    // Release builds of it are optimized in parts of their own (`tests/release_split.rs`).
    assert!(!split_symbols(&big_release).is_empty(), "the release build was not split");
    let status = |e: &Path| Command::new(e).status().unwrap().code();
    assert_eq!(status(&big_auto), status(&big_whole));
    assert_eq!(status(&big_auto), status(&big_release));
}

#[test]
fn functions_of_one_name_in_two_files_stay_apart_across_parts() {
    let s = Scratch::new("split-names");
    s.write("a.truk", "fn _helper() : i32 { return 1; }\nfn a() : i32 { return _helper(); }\n");
    s.write("b.truk", "fn _helper() : i32 { return 2; }\nfn b() : i32 { return _helper(); }\n");
    let src = s.write("m.truk", "import \"a.truk\";\nimport \"b.truk\";\nfn main() : i32 { return a() * 10 + b(); }\n");
    // Each part declares only what it uses, in its own order: the second name's `.1` comes
    // from the functions' order in the program, the same in every part.
    for parts in [1, 2, 3, 5] {
        let (exe, _) = build(&s, &src, &format!("m{parts}"), Some(parts), &[]);
        assert_eq!(Command::new(&exe).status().unwrap().code(), Some(12), "{parts} parts");
    }
}

#[test]
fn a_c_function_used_as_a_value_has_one_address_in_every_part() {
    let s = Scratch::new("split-thunk");
    // `div` returns a struct by value: as a function value it is reached through a thunk,
    // which each part that takes its address emits. With three parts, `pick` is in the
    // first and `same` in the second.
    let src = s.write(
        "prog.truk",
        "struct DivT { quot: i32, rem: i32 }
extern fn div(a: i32, b: i32) : DivT;

fn pick() : fn(i32, i32) : DivT {
    return div;
}

fn main() : i32 {
    var f: fn(i32, i32) : DivT = pick();
    var d: DivT = f(17, 5);
    if same(f) {
        return d.quot * 10 + d.rem;
    }
    return 1;
}

fn same(f: fn(i32, i32) : DivT) : bool {
    return f == div;
}
",
    );
    for parts in [1, 3] {
        let (exe, _) = build(&s, &src, &format!("p{parts}"), Some(parts), &[]);
        assert_eq!(Command::new(&exe).status().unwrap().code(), Some(32), "{parts} parts");
    }
}
