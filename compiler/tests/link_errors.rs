//! What the C toolchain finds wrong with a program is reported about the program: an extern
//! nothing defines at its declaration, a missing or broken C header at its `cimport`, an
//! extern a cimported header does not declare at the extern; never the linker's or the C
//! compiler's raw output about truk's temporary files. Also which linker links: gold for
//! unoptimized builds when binutils has it, GNU ld otherwise.

use std::path::Path;
use std::process::Output;

mod common;
use common::{text, truk, Scratch};

/// `truk build FILE` in the folder of `s` (so diagnostics name the file as `FILE`).
fn build_in(s: &Scratch, file: &str, extra: &[&str]) -> Output {
    build_in_env(s, file, extra, &[])
}

fn build_in_env(s: &Scratch, file: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    truk().current_dir(&s.0).envs(env.iter().copied()).arg("build").args(extra).arg(file).output().unwrap()
}

/// The error output of a build that must fail, with the scratch folder spelled `[DIR]`.
fn failure(s: &Scratch, file: &str, extra: &[&str]) -> String {
    let o = build_in(s, file, extra);
    assert!(!o.status.success(), "{file} built");
    let err = text(&o.stderr).replace(s.0.to_str().unwrap(), "[DIR]");
    for raw in ["collect2", "/tmp/truk-", "<stdin>", "undefined reference", ".c:"] {
        assert!(!err.contains(raw), "raw toolchain output ({raw}): {err}");
    }
    assert!(!Path::new(&s.0).join(file.trim_end_matches(".truk")).exists(), "no binary after a failed build");
    err
}

const UNDEFINED: &str = "extern fn nothere(x: i32) : i32;\nextern fn also_missing() : void;\nextern var missing_var: i64;\n\
extern fn unused_and_undefined() : void;\nextern fn abs(x: i32) : i32;\n\
fn main() : i32 {\n  also_missing();\n  return nothere(abs(-1)) + missing_var as i32;\n}\n";

#[test]
fn an_extern_nothing_defines_is_reported_at_its_declaration() {
    let s = Scratch::new("undefined");
    s.write("undef.truk", UNDEFINED);
    insta::assert_snapshot!(failure(&s, "undef.truk", &[]));
    // An object needs no definitions yet.
    let o = build_in(&s, "undef.truk", &["--emit", "obj"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn the_aarch64_cross_link_reports_the_same() {
    let s = Scratch::new("undefined-arm");
    s.write("undef.truk", UNDEFINED);
    if std::process::Command::new("aarch64-linux-gnu-gcc").arg("--version").output().is_err() {
        eprintln!("skipping: no aarch64-linux-gnu-gcc (ci/setup installs it)");
        return;
    }
    assert_eq!(failure(&s, "undef.truk", &["--target", "aarch64-unknown-linux-gnu"]), failure(&s, "undef.truk", &[]));
}

#[test]
fn an_extern_the_cimported_header_does_not_declare_is_reported_at_the_extern() {
    let s = Scratch::new("shim");
    s.write("inc/cube.h", "static inline int cube(int x) { return x * x * x; }\nstatic int hits;\nint twice(int x);\n");
    s.write(
        "shim.truk",
        "cimport \"inc/cube.h\";\nextern fn cube(x: i32) : i32;\nextern fn square(x: i32) : i32;\n\
extern var hits: i32;\nextern var misses: i32;\nextern fn twice(x: i32, y: i32) : i32;\n\
fn main() : i32 {\n  return cube(2) + square(3) + hits + misses;\n}\n",
    );
    insta::assert_snapshot!(failure(&s, "shim.truk", &[]));
}

#[test]
fn a_cimport_of_a_missing_or_broken_header_is_reported_at_the_cimport() {
    let s = Scratch::new("headers");
    s.write("system.truk", "cimport <stdio.h>;\ncimport <no_such_header.h>;\nfn main() : i32 {\n  return 0;\n}\n");
    s.write("local.truk", "cimport \"no_such_header.h\";\nfn main() : i32 {\n  return 0;\n}\n");
    s.write("broken.h", "int broken(;\n");
    s.write("nested.h", "#include \"no_such_include.h\"\n");
    s.write("broken.truk", "cimport <stdlib.h>;\ncimport \"broken.h\";\nfn main() : i32 {\n  return 0;\n}\n");
    s.write("nested.truk", "cimport \"nested.h\";\nfn main() : i32 {\n  return 0;\n}\n");
    let all: Vec<String> = ["system.truk", "local.truk", "broken.truk", "nested.truk"].iter().map(|f| failure(&s, f, &[])).collect();
    insta::assert_snapshot!(all.join("\n"));
}

#[test]
fn other_link_failures_are_one_line_and_verbose_shows_the_linker() {
    let s = Scratch::new("other");
    s.write("ok.truk", "fn main() : i32 {\n  return 0;\n}\n");
    std::fs::create_dir(s.0.join("folder")).unwrap();
    let o = build_in(&s, "ok.truk", &["-o", "folder"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.starts_with("error: linking with `"), "{err}");
    // GNU ld: "cannot open output file folder: Is a directory"; gold: "folder: open: Is a directory".
    let first = err.lines().next().unwrap();
    assert!(first.contains("): ") && first.contains("folder") && first.ends_with(": Is a directory") && !first.contains("ld.gold"), "{err}");
    assert!(err.contains("TRUK_VERBOSE=1") && !err.contains("collect2"), "{err}");
    let o = truk().current_dir(&s.0).env("TRUK_VERBOSE", "1").args(["build", "ok.truk", "-o", "folder"]).output().unwrap();
    let verbose = text(&o.stderr);
    assert!(verbose.contains("folder") && verbose.contains("collect2: error: ld returned 1 exit status"), "{verbose}");
}

/// Gold links unoptimized builds when binutils' `ld.gold` is on `PATH` (it is quicker), GNU
/// ld when it is not, and release builds; the binaries run the same, and gold's leaves its
/// version note.
#[test]
fn gold_links_when_installed_and_gnu_ld_when_not() {
    let s = Scratch::new("linkers");
    s.write("m.truk", "fn add(a: i64, b: i64) : i64 {\n  return a + b;\n}\nfn main() : i32 {\n  return add(35, 7) as i32;\n}\n");
    let gold_note = |exe: &Path| std::fs::read(exe).unwrap().windows(22).any(|w| w == b".note.gnu.gold-version");
    let run = |exe: &Path| std::process::Command::new(exe).status().unwrap().code();
    // Without gold: a PATH of only the programs a build runs, `ld` but no `ld.gold`.
    let bin = s.0.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for p in ["cc", "ld", "clang-19", "llvm-ar-19", "llvm-objcopy-19"] {
        if let Some(found) = truk_core::driver::tools::which(p) {
            std::os::unix::fs::symlink(found, bin.join(p)).unwrap();
        }
    }
    let o = build_in_env(&s, "m.truk", &["-o", "by_ld"], &[("PATH", bin.to_str().unwrap())]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(run(&s.0.join("by_ld")), Some(42));
    assert!(!gold_note(&s.0.join("by_ld")), "linked by gold without ld.gold on PATH");
    if truk_core::driver::tools::which("ld.gold").is_none() {
        eprintln!("skipping the gold half: no ld.gold (binutils has it)");
        return;
    }
    let o = build_in(&s, "m.truk", &["-o", "by_gold"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(run(&s.0.join("by_gold")), Some(42));
    assert!(gold_note(&s.0.join("by_gold")), "not linked by gold");
    let o = build_in(&s, "m.truk", &["--release", "-o", "release"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(run(&s.0.join("release")), Some(42));
    assert!(!gold_note(&s.0.join("release")), "a release build linked by gold");
}

#[test]
fn an_extern_a_local_header_declares_but_nothing_defines_is_reported_at_the_extern() {
    let s = Scratch::new("declared");
    s.write("decl.h", "int twice(int x);\nextern int counter;\n");
    s.write("decl.truk", "cimport \"decl.h\";\nextern fn twice(x: i32) : i32;\nextern var counter: i32;\nfn main() : i32 {\n  return twice(counter);\n}\n");
    insta::assert_snapshot!(failure(&s, "decl.truk", &[]));
}
