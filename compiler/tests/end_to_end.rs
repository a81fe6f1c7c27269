//! End-to-end tests: compile real Truk programs with the `truk` binary and run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{truk, Scratch};

/// A fleet namespace (`TRUK_FLEET_NS`) of one test's own, so that tests never join each
/// other's fleets; its region files are removed when the test ends, even when it fails.
struct FleetNs(String);

impl FleetNs {
    fn new(name: &str) -> FleetNs {
        FleetNs(format!("e2e-{name}-{}", std::process::id()))
    }
    fn regions(&self) -> Vec<PathBuf> {
        let suffix = format!("-{}", self.0);
        std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        let n = p.file_name().unwrap().to_string_lossy();
                        n.starts_with("truk-") && n.ends_with(&suffix)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for FleetNs {
    fn drop(&mut self) {
        for p in self.regions() {
            let _ = std::fs::remove_file(p);
        }
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

// ---- fleets ------------------------------------------------------------------------------

/// The LLVM IR of `src`, and the undefined symbols of its object file.
fn ir_and_undefined(s: &Scratch, name: &str, src: &str, extra: &[&str]) -> (String, String) {
    let path = s.write(&format!("{name}.truk"), src);
    let (ll, obj) = (s.0.join(format!("{name}.ll")), s.0.join(format!("{name}.o")));
    for (out, emit) in [(&ll, "llvm-ir"), (&obj, "obj")] {
        let o = build(&path, out, &[&["--emit", emit], extra].concat());
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let nm = Command::new("nm").arg("-u").arg(&obj).output().unwrap();
    assert!(nm.status.success());
    (std::fs::read_to_string(&ll).unwrap(), String::from_utf8_lossy(&nm.stdout).into_owned())
}

const ATOMICS: &str = "var counter: u64;\nstruct S { flag: bool, n: i32, small: u8 }\n\
fn main() : i32 {\n\
  var s: S;\n  var local: i64 = 10;\n  var arr: [4]u32;\n  var m: Mutex;\n\
  if atomic_add(&counter, 5) != 0 { return 1; }\n\
  if atomic_sub(&counter, 2) != 5 { return 2; }\n\
  if atomic_load(&counter) != 3 { return 3; }\n\
  atomic_store(&local, -4);\n\
  if atomic_swap(&local, 9) != -4 { return 4; }\n\
  if !atomic_cas(&local, 9, 11) { return 5; }\n\
  if atomic_cas(&local, 9, 12) { return 6; }\n\
  if local != 11 { return 7; }\n\
  if !atomic_cas(&s.flag, false, true) { return 8; }\n\
  if !atomic_load(&s.flag) { return 9; }\n\
  if !atomic_swap(&s.flag, false) || s.flag { return 10; }\n\
  s.small = 250;\n\
  if atomic_add(&s.small, 10) != 250 { return 11; }\n\
  if s.small != 4 { return 12; }\n\
  atomic_add(&arr[2], 7);\n\
  if arr[2] != 7 || arr[1] != 0 { return 13; }\n\
  if sizeof(@Mutex) != 40 { return 14; }\n\
  return 42;\n}\n";

#[test]
fn atomics_work_on_private_memory_without_a_fleet() {
    let s = Scratch::new("atomics");
    let src = s.write("atomics.truk", ATOMICS);
    let exe = s.0.join("atomics");
    for release in [false, true] {
        let o = build(&src, &exe, if release { &["--release"] } else { &[] });
        assert!(o.status.success(), "{}", stderr(&o));
        let r = Command::new(&exe).output().unwrap();
        assert_eq!(r.status.code(), Some(42), "release={release} {}", stderr(&r));
    }
    let (ir, undefined) = ir_and_undefined(&s, "atomics_ir", ATOMICS, &[]);
    assert!(ir.contains("atomicrmw add") && ir.contains("cmpxchg") && ir.contains("load atomic"), "{ir}");
    for sym in ["__truk_fleet", "__truk_mutex", "__truk_wait_on", "__truk_spawn"] {
        assert!(!ir.contains(sym), "{sym} in a program without fleet features:\n{ir}");
        assert!(!undefined.contains(sym), "{sym} referenced:\n{undefined}");
    }
    // The area is empty and the layout fingerprint the documented constant.
    let json = truk().args(["fp", "--json"]).arg(&exe).output().unwrap();
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.contains("\"region_size\":0"), "{json}");
    assert!(json.contains(truk_core::fingerprint::EMPTY_LAYOUT_FINGERPRINT_HEX), "{json}");
}

#[test]
fn shared_vars_and_fleet_builtins_join_the_fleet_first() {
    let s = Scratch::new("join");
    let shared = "struct Entry { key: u32, val: u64 }\nshared var hits: u64;\nshared var table: [4]Entry;\n\
        shared var epoch: i64 = 7;\nfn main() : i32 { atomic_add(&hits, 1); table[1].val = 5; return epoch as i32; }\n";
    let (ir, undefined) = ir_and_undefined(&s, "shared", shared, &[]);
    assert!(ir.contains("call ptr @__truk_fleet_join(ptr @__truk_fleet_init)"), "{ir}");
    assert!(undefined.contains("__truk_fleet_join"), "{undefined}");
    // No initializers: the area starts zeroed and join gets no init function.
    let zeroed = "shared var hits: u64;\nfn main() : i32 { hits += 1; return 0; }\n";
    let (ir, _) = ir_and_undefined(&s, "zeroed", zeroed, &[]);
    assert!(ir.contains("call ptr @__truk_fleet_join(ptr null)"), "{ir}");
    // A fleet builtin without any shared var joins too.
    let builtin = "fn main() : i32 { return fleet_size() as i32; }\n";
    let (ir, undefined) = ir_and_undefined(&s, "builtin", builtin, &[]);
    assert!(ir.contains("@__truk_fleet_join(ptr null)") && undefined.contains("__truk_fleet_size"), "{ir}");
    // The note carries the area's size and a layout fingerprint of its own.
    let json = truk().args(["fp", "--json"]).arg(s.0.join("shared.o")).output().unwrap();
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.contains("\"region_size\":80"), "{json}");
    assert!(!json.contains(truk_core::fingerprint::EMPTY_LAYOUT_FINGERPRINT_HEX), "{json}");
}

#[test]
fn fleet_capacity_is_in_the_note_and_the_fingerprint() {
    let s = Scratch::new("capacity");
    let src = s.write("cap.truk", "fn main() : i32 { return 0; }\n");
    let (a, b, c) = (s.0.join("a"), s.0.join("b"), s.0.join("c"));
    assert!(build(&src, &a, &[]).status.success());
    assert!(build(&src, &b, &["--fleet-capacity", "8"]).status.success());
    assert!(build(&src, &c, &["--fleet-capacity", "1024"]).status.success());
    assert_ne!(fp_of(&a), fp_of(&b), "another capacity");
    assert_eq!(fp_of(&a), fp_of(&c), "1024 is the default");
    let json = truk().args(["fp", "--json"]).arg(&b).output().unwrap();
    assert!(String::from_utf8_lossy(&json.stdout).contains("\"fleet_capacity\":8"));
    for bad in ["0", "65537", "-1", "many"] {
        let o = build(&src, &a, &[&format!("--fleet-capacity={bad}")]);
        assert!(!o.status.success(), "--fleet-capacity {bad} accepted");
        let err = stderr(&o);
        assert!(err.contains("--fleet-capacity") && !err.contains("panicked"), "{err}");
    }
}

/// Processes of one build share `shared var`s: children started with `spawn` count into the
/// same memory, under a Mutex and with atomics, and the parent sees every increment.
#[test]
fn spawned_children_share_memory_with_the_parent() {
    let s = Scratch::new("fleetrun");
    let src = s.write(
        "counter.truk",
        "shared var hits: u64;\nshared var plain: u64;\nshared var m: Mutex;\nshared var epoch: i64 = 7;\nshared var ready: u32;\n\
         fn child() : i32 {\n\
           if epoch != 8 || fleet_first() || fleet_size() < 2 { return 21; }\n\
           for var i: i32 = 0; i < 1000; i += 1 {\n\
             atomic_add(&hits, 1);\n\
             if lock(&m) { return 20; }\n\
             plain = plain + 1;\n\
             unlock(&m);\n\
           }\n\
           atomic_store(&ready, 1);\n\
           wake(&ready, 16);\n\
           return 0;\n\
         }\n\
         fn main(argc: i32, argv: **i8) : i32 {\n\
           if argc > 1 { return child(); }\n\
           if epoch != 7 || !fleet_first() || fleet_size() != 1 { return 1; }\n\
           epoch = 8;\n\
           var args: []*u8 = make(@*u8, 1);\n\
           args[0] = \"child\";\n\
           var pids: [4]i64;\n\
           for var i: u64 = 0; i < 4; i += 1 { pids[i] = spawn(args); if pids[i] < 0 { return 2; } }\n\
           while atomic_load(&ready) == 0 { wait_on(&ready, 0, 10000); }\n\
           for var i: u64 = 0; i < 4; i += 1 { if wait_child(pids[i]) != 0 { return 3; } }\n\
           if hits != 4000 { return 4; }\n\
           if plain != 4000 { return 5; }\n\
           if fleet_size() != 1 { return 6; }\n\
           return 42;\n\
         }\n",
    );
    let exe = s.0.join("counter");
    let o = build(&src, &exe, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ns = FleetNs::new("counter");
    let r = Command::new(&exe).env("TRUK_FLEET_NS", &ns.0).output().unwrap();
    assert_eq!(r.status.code(), Some(42), "{}", stderr(&r));
    assert!(ns.regions().is_empty(), "the last member left its region behind");
}

/// `truk test` joins the fleet before the tests run: initializers applied, builtins usable.
/// Each test runs in a forked child, which joins the fleet beside the runner.
#[test]
fn tests_of_a_program_with_shared_vars_run_in_a_fleet() {
    let s = Scratch::new("fleettest");
    let src = s.write(
        "shared_test.truk",
        "import \"testing\";\nstruct P { m: Mutex, n: i64 }\nshared var p: P = P{ n: 41 };\n\
         fn test_shared(t: *__truk_test_context_s) : void {\n\
           let _ = lock(&p.m);\n  p.n += 1;\n  unlock(&p.m);\n\
           __truk_test_assert_i32(t, 42, p.n as i32, \"initialized, then incremented\");\n\
           __truk_test_assert_i32(t, 2, fleet_size() as i32, \"the test and its runner\");\n\
         }\n",
    );
    let ns = FleetNs::new("testfw");
    let o = truk().arg("test").arg(&src).env("TRUK_FLEET_NS", &ns.0).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("1 passed, 0 failed"), "{out}{}", stderr(&o));
}

/// The README's example fleet: a worker is SIGKILLed holding a chunk of the shared table,
/// the leader's supervisor restarts it, the replacement hands the chunk back, the total
/// matches a single process's count (the program checks that itself), and the last member
/// out removes the region.
#[test]
fn example_fleet_survives_a_killed_worker() {
    let s = Scratch::new("example");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fleet.truk");
    let exe = s.0.join("fleet");
    let o = build(&src, &exe, &["--release"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ns = FleetNs::new("example");
    let r = Command::new(&exe).env("TRUK_FLEET_NS", &ns.0).output().unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("supervisor: child 1 [\"work\",\"0\"] died (signal 9), restart 1 of 3"), "{err}");
    assert!(out.contains(": 1 chunk(s) handed back"), "{out}");
    assert!(out.contains("primes below 2560000:"), "{out}");
    assert!(ns.regions().is_empty(), "the fleet left its region behind");
}
