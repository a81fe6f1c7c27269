//! What a release binary without debug info carries: the runtime's local symbols (static
//! functions and variables, file names) are left out of its symbol table, the program's own
//! functions keep their names, and panics still name their place. `-g` keeps everything.

mod common;

use std::path::Path;
use std::process::Command;

use common::{text, truk, Scratch};

const PROGRAM: &str = r#"
extern fn printf(fmt: *i8, ...args) : i32;
fn pick(xs: []i64, i: u64) : i64 { return xs[i]; }
fn first(xs: []i64, i: u64) : i64 { return xs[0]; }
fn main(argc: i32, argv: **i8) : i32 {
    var xs: []i64 = make(@i64, 4);
    defer delete(xs);
    // Chosen at run time, so that both stay functions of their own.
    var f: fn([]i64, u64) : i64 = first;
    if argc < 5 { f = pick; }
    printf("%lld\n", f(xs, argc as u64 + 3));
    return 0;
}
"#;

/// Names in the symbol table of `exe` (`nm -a`: locals and file names too).
fn symbols(exe: &Path) -> Vec<String> {
    let out = Command::new("nm").arg("-a").arg(exe).output().expect("nm runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().filter_map(|l| l.split_whitespace().nth(2).map(str::to_string)).collect()
}

fn build(dir: &Scratch, name: &str, flags: &[&str]) -> (std::path::PathBuf, Vec<String>) {
    let src = dir.write("main.truk", PROGRAM);
    let exe = dir.0.join(name);
    let b = truk().arg("build").args(flags).arg(&src).arg("-o").arg(&exe).output().unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    let syms = symbols(&exe);
    (exe, syms)
}

#[test]
fn release_binaries_leave_out_the_runtime_local_symbols() {
    let dir = Scratch::new("rel-syms");
    let (exe, syms) = build(&dir, "rel", &["--release"]);
    for local in ["panic_begin", "rt_on_segv", "start.c", "map.c"] {
        assert!(!syms.iter().any(|s| s == local), "{local} is in the symbol table: {syms:?}");
    }
    assert!(syms.iter().any(|s| s == "pick"), "the program's functions keep their names: {syms:?}");
    // The runtime still works: the out-of-range index panics with its place.
    let run = Command::new(&exe).output().unwrap();
    assert_eq!(run.status.code(), Some(101));
    assert!(text(&run.stderr).contains("index out of bounds: the index is 4 but the length is 4"), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("main.truk:3:43"), "{}", text(&run.stderr));

    let (_, with_g) = build(&dir, "rel-g", &["--release", "-g"]);
    assert!(with_g.iter().any(|s| s == "panic_begin"), "-g keeps the runtime's symbols: {with_g:?}");
}
