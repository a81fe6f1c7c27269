//! What the integration tests that drive the `truk` binary share.
#![allow(dead_code)] // each test file uses its own part of it

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `truk` binary that cargo built for these tests.
pub fn truk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_truk"))
}

/// A scratch folder removed when the test ends, even when it fails. Names are unique per
/// test process (each test file is one), so only names within one file must differ.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("truk-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// LLVM's fast instruction selector takes every instruction, argument and call of the IR
/// file `ll` at -O0, as a debug build compiles it (when llc-19 is installed).
pub fn assert_fast_isel_takes_all(ll: &Path) {
    match Command::new("llc-19").args(["-O0", "-pass-remarks-missed=sdagisel", "-o", "/dev/null"]).arg(ll).output() {
        Ok(o) => {
            let misses: Vec<&str> = std::str::from_utf8(&o.stderr).unwrap().lines().filter(|l| l.contains("FastISel")).collect();
            assert!(o.status.success() && misses.is_empty(), "{}: {misses:#?}", ll.display());
        }
        Err(_) => eprintln!("llc-19 not found: fast-isel fallbacks not counted"),
    }
}

/// Three tests that a split build puts in different parts (each part a few functions): run
/// by `truk test` with `env` set (how many parts) and `args` (the profile), the runner in
/// part 0 runs them all and reports the failing one.
pub fn assert_tests_of_every_part_run(s: &Scratch, env: (&str, &str), args: &[&str]) {
    let src = s.write(
        "t.truk",
        "extern struct __truk_test_context_s;
extern fn __truk_test_assert_i32(t: *__truk_test_context_s, expected: i32, actual: i32, msg: *u8) : void;
var base: i32 = 10;
fn test_wrong(t: *__truk_test_context_s) : void { __truk_test_assert_i32(t, base, 11, \"off by one\"); }
fn test_right(t: *__truk_test_context_s) : void { __truk_test_assert_i32(t, base + 1, 11, \"equal\"); }
fn test_third(t: *__truk_test_context_s) : void { base = 11; __truk_test_assert_i32(t, base, 11, \"set\"); }
",
    );
    let o = truk().env_remove("TRUK_CODEGEN_PARTS").env(env.0, env.1).arg("test").args(args).arg(&src).output().unwrap();
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    for want in ["[FAIL] test_wrong", "off by one", "[PASS] test_right", "[PASS] test_third", "2 passed, 1 failed"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}
