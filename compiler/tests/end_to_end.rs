//! End-to-end tests: compile real Truk programs with the `truk` binary and run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn truk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_truk"))
}

/// A scratch folder removed when the test ends, even when it fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("truk-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
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

fn build(src: &Path, out: &Path, extra: &[&str]) -> Output {
    truk().arg("build").args(extra).arg(src).arg("-o").arg(out).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn hello_world_runs_and_prints() {
    let s = Scratch::new("hello");
    let src = s.write(
        "hello.truk",
        "cimport <stdio.h>;\nextern fn printf(fmt: *i8, ...args) : i32;\nfn main() : i32 {\n  printf(\"sum %d\\n\", 40 + 2);\n  return 3;\n}\n",
    );
    let exe = s.0.join("hello");
    for release in [false, true] {
        let o = build(&src, &exe, if release { &["--release"] } else { &[] });
        assert!(o.status.success(), "{}", stderr(&o));
        let r = Command::new(&exe).output().unwrap();
        assert_eq!(r.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&r.stdout), "sum 42\n");
    }
}

#[test]
fn out_of_bounds_index_panics_with_location() {
    let s = Scratch::new("bounds");
    let src = s.write(
        "oob.truk",
        "fn get(a: [4]i32, i: u64) : i32 {\n  return a[i];\n}\nfn main() : i32 {\n  var a: [4]i32 = [1, 2, 3, 4];\n  return get(a, 7);\n}\n",
    );
    let exe = s.0.join("oob");
    let o = build(&src, &exe, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = Command::new(&exe).output().unwrap();
    assert_eq!(r.status.code(), Some(101));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("index out of bounds"), "{err}");
    assert!(err.contains("oob.truk:2:"), "{err}");
}

#[test]
fn slices_maps_defer_and_structs_work_together() {
    let s = Scratch::new("mix");
    let src = s.write(
        "mix.truk",
        r#"struct P { x: i32, y: i32 }
fn sum(ps: []P) : i32 {
  var t: i32 = 0;
  for var i: u64 = 0; i < len(ps); i += 1 { t += ps[i].x * ps[i].y; }
  return t;
}
fn main() : i32 {
  var ps: []P = make(@P, 3);
  defer delete(ps);
  for var i: u64 = 0; i < 3; i += 1 { ps[i] = P{x: i as i32 + 1, y: 2}; }
  var m: map[*u8, i32] = make(@map[*u8, i32]);
  defer delete(m);
  m["a"] = sum(ps);
  var p: *i32 = m["a"];
  if p == nil { return 1; }
  return *p;
}
"#,
    );
    let exe = s.0.join("mix");
    let o = build(&src, &exe, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Command::new(&exe).status().unwrap().code(), Some(12));
}

#[test]
fn type_errors_are_diagnostics_with_location_and_several_per_run() {
    let s = Scratch::new("diag");
    let src = s.write(
        "bad.truk",
        "fn main() : i32 {\n  var x: i32 = \"no\";\n  var y: bool = nope;\n  return x;\n}\n",
    );
    let exe = s.0.join("bad");
    let o = build(&src, &exe, &[]);
    assert!(!o.status.success());
    assert!(!exe.exists(), "a rejected program must leave no binary");
    let err = stderr(&o);
    assert!(err.contains("bad.truk:2:3"), "{err}");
    assert!(err.contains("bad.truk:3:17"), "{err}");
    assert!(err.contains("^"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn fp_of(exe: &Path) -> String {
    let o = truk().arg("fp").arg(exe).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn fingerprint_depends_on_content_profile_not_folder() {
    let s = Scratch::new("fp");
    let prog = "import \"lib.truk\";\nfn main() : i32 { return answer(); }\n";
    let lib = "fn answer() : i32 { return 42; }\n";
    let a = s.write("one/main.truk", prog);
    s.write("one/lib.truk", lib);
    let b = s.write("two/deeper/main.truk", prog);
    s.write("two/deeper/lib.truk", lib);
    let (ea, eb, ec, ed) = (s.0.join("a"), s.0.join("b"), s.0.join("c"), s.0.join("d"));
    assert!(build(&a, &ea, &[]).status.success());
    assert!(build(&b, &eb, &[]).status.success());
    assert!(build(&a, &ec, &["--release"]).status.success());
    let fa = fp_of(&ea);
    assert_eq!(fa.len(), 64);
    assert!(fa.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(fa, fp_of(&eb), "same sources in another folder");
    assert_ne!(fa, fp_of(&ec), "another profile");
    // One changed byte in an imported file.
    s.write("one/lib.truk", "fn answer() : i32 { return 43; }\n");
    assert!(build(&a, &ed, &[]).status.success());
    assert_ne!(fa, fp_of(&ed), "one changed byte");
    let json = truk().args(["fp", "--json"]).arg(&ea).output().unwrap();
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.contains(&fa) && json.contains("\"profile\":\"debug\""), "{json}");
}

#[test]
fn fp_rejects_files_that_are_not_truk_binaries() {
    let s = Scratch::new("fpbad");
    let txt = s.write("notes.txt", "hello");
    for path in [txt.as_path(), Path::new("/bin/true"), Path::new("/nonexistent/x")] {
        let o = truk().arg("fp").arg(path).output().unwrap();
        assert!(!o.status.success());
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn truk_test_runs_test_functions_and_fails_on_failure() {
    let s = Scratch::new("testfw");
    let decls = "extern struct __truk_test_context_s;\nextern fn __truk_test_assert_i32(t: *__truk_test_context_s, e: i32, a: i32, msg: *u8) : void;\n";
    let good = s.write("good.truk", &format!("{decls}fn test_ok(t: *__truk_test_context_s) : void {{ __truk_test_assert_i32(t, 4, 2 + 2, \"adds\"); }}\n"));
    let bad = s.write("bad.truk", &format!("{decls}fn test_no(t: *__truk_test_context_s) : void {{ __truk_test_assert_i32(t, 5, 2 + 2, \"adds\"); }}\n"));
    let o = truk().arg("test").arg(&good).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("test_ok"));
    let o = truk().arg("test").arg(&bad).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("test_no"));
}
