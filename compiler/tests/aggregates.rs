//! Large values: aggregates are returned, passed and copied through memory, so a 256 KB
//! struct or a [16384]i32 compiles like a small one, in debug and optimized builds.
//! The programs are the ones under `tests/lang/aggregates/` (the lang runner builds them
//! in debug); here they are also built with `--release` and their LLVM IR is inspected.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{text, truk, Scratch};

fn program(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lang/aggregates").join(format!("{name}.truk"))
}

/// The `expect-exit` and `expect-stdout` lines of a program's header.
fn expected(path: &PathBuf) -> (i32, String) {
    let src = std::fs::read_to_string(path).unwrap();
    let mut exit = 0;
    let mut stdout = String::new();
    for line in src.lines() {
        if let Some(v) = line.strip_prefix("// expect-exit: ") {
            exit = v.trim().parse().unwrap();
        } else if let Some(v) = line.strip_prefix("// expect-stdout: ") {
            stdout.push_str(v);
            stdout.push('\n');
        }
    }
    (exit, stdout)
}

const BIG: [&str; 5] = ["big_struct_by_value", "big_array_by_value", "zero_sized", "literal_reads_its_destination", "large_locals_live_on_the_heap"];

#[test]
fn big_values_run_correctly_in_release_builds() {
    let dir = Scratch::new("agg-release");
    for name in BIG {
        let src = program(name);
        let exe = dir.0.join(name);
        let b = truk().arg("build").arg("--release").arg(&src).arg("-o").arg(&exe).output().unwrap();
        assert!(b.status.success(), "{name}: {}", text(&b.stderr));
        let r = Command::new(&exe).output().unwrap();
        let (exit, stdout) = expected(&src);
        assert_eq!(r.status.code(), Some(exit), "{name}: {}", text(&r.stderr));
        if !stdout.is_empty() {
            assert_eq!(text(&r.stdout), stdout, "{name}");
        }
    }
}

/// A load, store or return of a whole struct or array in LLVM IR (slices excepted).
fn first_class_aggregates(ir: &str) -> Vec<String> {
    let agg = |s: &str| s.starts_with("%struct.") || s.starts_with('[') || s.starts_with('{');
    ir.lines()
        .map(str::trim)
        .filter(|l| {
            let after = |k: &str| l.split_once(k).map(|(_, r)| agg(r));
            after("= load ").or(after("store ")).or(after("ret ")).unwrap_or(false) && !l.contains("{ ptr, i64 }")
        })
        .map(String::from)
        .collect()
}

#[test]
fn aggregates_are_never_loaded_stored_or_returned_whole() {
    let dir = Scratch::new("agg-ir");
    for name in BIG {
        let ll = dir.0.join(format!("{name}.ll"));
        let b = truk().arg("build").args(["--emit", "llvm-ir"]).arg(program(name)).arg("-o").arg(&ll).output().unwrap();
        assert!(b.status.success(), "{name}: {}", text(&b.stderr));
        let ir = std::fs::read_to_string(&ll).unwrap();
        assert_eq!(first_class_aggregates(&ir), Vec::<String>::new(), "{name}");
        common::assert_fast_isel_takes_all(&ll);
    }
}

#[test]
fn the_check_sees_whole_aggregate_moves() {
    let ir = "  %1 = load %struct.Big, ptr %b\n  store [4 x i32] %2, ptr %a\n  ret { i32, i32 } %3\n  %4 = load { ptr, i64 }, ptr %s\n  %5 = load i32, ptr %0\n";
    assert_eq!(first_class_aggregates(ir).len(), 3);
}

#[test]
fn heap_locals_are_freed_on_return() {
    // 300 calls with an 8 MB local each, in 1 GB of address space: only if each is freed.
    let dir = Scratch::new("agg-free");
    let src = program("large_locals_live_on_the_heap");
    let exe = dir.0.join("prog");
    let b = truk().arg("build").arg(&src).arg("-o").arg(&exe).output().unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    let r = Command::new("sh").arg("-c").arg("ulimit -v 1000000 && exec \"$0\"").arg(&exe).output().unwrap();
    assert_eq!((r.status.code(), text(&r.stdout)), (Some(0), expected(&src).1), "{}", text(&r.stderr));
}
