//! Building for other targets with the `truk` binary: aarch64 Linux executables (run under
//! qemu-user on other hosts), Mach-O objects for macOS, and the fingerprint across targets.
//! Tests that need the cross toolchain or qemu say so and return when it is absent.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{text, truk, Scratch};

const ARM: &str = "aarch64-unknown-linux-gnu";

fn ok(o: &Output) -> &Output {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status, text(&o.stdout), text(&o.stderr));
    o
}

fn program_exists(p: &str) -> bool {
    Command::new(p).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Can this machine link aarch64 executables and run them? Prints why not when it cannot.
fn arm_ready() -> bool {
    let native = std::env::consts::ARCH == "aarch64";
    let toolchain = native || (program_exists("aarch64-linux-gnu-gcc") && Path::new("/usr/aarch64-linux-gnu/lib/crt1.o").is_file());
    let qemu = native || program_exists("qemu-aarch64");
    if !toolchain || !qemu {
        eprintln!("skipping: the aarch64 cross toolchain or qemu-aarch64 is missing (ci/setup installs them)");
    }
    toolchain && qemu
}

/// Runs an aarch64 executable here (directly on arm64, under qemu-user elsewhere).
fn run_arm(exe: &Path) -> Output {
    if std::env::consts::ARCH == "aarch64" {
        Command::new(exe).output().unwrap()
    } else {
        Command::new("qemu-aarch64").arg("-L").arg("/usr/aarch64-linux-gnu").arg(exe).output().unwrap()
    }
}

/// Exercises the C ABI where aarch64 differs from x86_64: variadic printf with integers of
/// every width and doubles, `char` (unsigned on aarch64) against Truk's signed i8, and a
/// struct passed and returned by value.
const ABI_PROGRAM: &str = r#"cimport <stdio.h>;
extern fn printf(fmt: *i8, ...args) : i32;
struct P { x: i32, y: f64 }
fn swap(p: P) : P { return P{x: p.y as i32, y: p.x as f64}; }
fn main() : i32 {
  var c: i8 = -5;
  var w: i8 = 127;
  w = w + 1 as i8;
  var big: i64 = -9000000000;
  var u: u8 = 250;
  var q: P = swap(P{x: 3, y: 7.5});
  printf("%d %d %lld %u %d %.2f %s\n", c as i32, w as i32, big, u as u32, q.x, q.y, "ok");
  if c < 0 { return 7; }
  return 1;
}
"#;
const ABI_OUTPUT: &str = "-5 -128 -9000000000 250 7 3.00 ok\n";

fn fp_json(file: &Path) -> String {
    text(&ok(&truk().args(["fp", "--json"]).arg(file).output().unwrap()).stdout)
}

fn fp(file: &Path) -> String {
    text(&ok(&truk().arg("fp").arg(file).output().unwrap()).stdout).trim().to_string()
}

#[test]
fn aarch64_executable_builds_runs_and_carries_its_fingerprint() {
    if !arm_ready() {
        return;
    }
    let s = Scratch::new("arm");
    let src = s.write("abi.truk", ABI_PROGRAM);
    for release in [false, true] {
        let exe = s.0.join(if release { "abi-release" } else { "abi" });
        let mut cmd = truk();
        cmd.args(["build", "--target", ARM]).arg(&src).arg("-o").arg(&exe);
        if release {
            cmd.arg("--release");
        }
        let o = cmd.output().unwrap();
        ok(&o);
        let obj = object::File::parse(&*std::fs::read(&exe).unwrap()).map(|f| object::Object::architecture(&f)).unwrap();
        assert_eq!(obj, object::Architecture::Aarch64);
        let r = run_arm(&exe);
        assert_eq!(r.status.code(), Some(7), "release={release} {}", text(&r.stderr));
        assert_eq!(text(&r.stdout), ABI_OUTPUT, "release={release}");
        // `truk fp` reads the foreign binary; the wrote line names the same fingerprint.
        let f = fp(&exe);
        assert!(text(&o.stderr).contains(&format!("wrote {} (fingerprint {f})", exe.display())), "{}", text(&o.stderr));
        assert!(fp_json(&exe).contains(&format!("\"target\":\"{ARM}\"")));
    }
    // `truk run` and `truk test` run the result under qemu on other hosts.
    let r = truk().args(["run", "--target", "aarch64-linux-gnu"]).arg(&src).output().unwrap();
    assert_eq!(r.status.code(), Some(7), "{}", text(&r.stderr));
    assert_eq!(text(&r.stdout), ABI_OUTPUT);
    let t = s.write(
        "t.truk",
        "import \"testing\";\nfn test_signed_i8(t: *__truk_test_context_s) : void {\n  var c: i8 = -1;\n  __truk_test_assert_i32(t, -1, c as i32, \"i8 is signed\");\n  __truk_test_assert_i8(t, -1, c, \"i8 through the C ABI\");\n}\n",
    );
    let r = truk().args(["test", "--target", ARM]).arg(&t).output().unwrap();
    ok(&r);
    assert!(text(&r.stdout).contains("test_signed_i8"), "{}", text(&r.stdout));
}

#[test]
fn the_fingerprint_includes_the_target_and_survives_strip() {
    if !arm_ready() {
        return;
    }
    let s = Scratch::new("fp");
    let src = s.write("hello.truk", "fn main() : i32 { return 0; }\n");
    let (x86, arm, arm2) = (s.0.join("x86"), s.0.join("arm"), s.0.join("arm2"));
    ok(&truk().args(["build", "--target", "x86_64-unknown-linux-gnu"]).arg(&src).arg("-o").arg(&x86).output().unwrap());
    ok(&truk().args(["build", "--target", ARM]).arg(&src).arg("-o").arg(&arm).output().unwrap());
    // An alias of the same target is the same build.
    ok(&truk().args(["build", "--target", "aarch64-linux-gnu"]).arg(&src).arg("-o").arg(&arm2).output().unwrap());
    let x86r = s.0.join("x86-release");
    ok(&truk().args(["build", "--release"]).arg(&src).arg("-o").arg(&x86r).output().unwrap());
    let (fx, fa) = (fp(&x86), fp(&arm));
    assert_ne!(fx, fa, "x86_64 and aarch64 builds of one source");
    assert_eq!(fa, fp(&arm2), "an alias of the target");
    // Stripped binaries keep the note (it is an allocated SHT_NOTE in a PT_NOTE segment).
    let strips = [(&x86, "strip"), (&x86r, "strip"), (&arm, "aarch64-linux-gnu-strip"), (&arm, "llvm-strip-19")];
    for (i, (exe, strip)) in strips.into_iter().enumerate() {
        let out = s.0.join(format!("stripped-{i}"));
        let st = Command::new(strip).arg("-s").arg(exe).arg("-o").arg(&out).status();
        if !st.map(|s| s.success()).unwrap_or(false) {
            eprintln!("skipping {strip}: not installed");
            continue;
        }
        assert_eq!(fp(&out), fp(exe), "{strip} -s");
    }
    let r = run_arm(&arm);
    assert_eq!(r.status.code(), Some(0));
}

#[test]
fn darwin_objects_carry_the_note_kept_under_dead_strip() {
    use object::{Object, ObjectSection, ObjectSymbol};
    let s = Scratch::new("macho");
    let src = s.write("hello.truk", "fn main() : i32 { return 0; }\n");
    for triple in ["x86_64-apple-darwin", "aarch64-apple-darwin"] {
        let obj = s.0.join(format!("{triple}.o"));
        let o = truk().args(["build", "--emit", "obj", "--target", triple]).arg(&src).arg("-o").arg(&obj).output().unwrap();
        ok(&o);
        let data = std::fs::read(&obj).unwrap();
        let file = object::File::parse(&*data).unwrap();
        assert_eq!(file.format(), object::BinaryFormat::MachO, "{triple}");
        let sec = file.section_by_name("__truk_fp").expect("section __truk_fp");
        assert_eq!(sec.segment_name().unwrap(), Some("__TEXT"), "{triple}");
        // llvm.used becomes `.no_dead_strip`: the note's symbol carries N_NO_DEAD_STRIP.
        let sym = file.symbols().find(|s| s.name() == Ok("___truk_fingerprint_note")).expect("note symbol");
        assert_eq!(sym.section_index(), Some(sec.index()));
        match sym.flags() {
            object::SymbolFlags::MachO { n_desc, .. } => {
                assert_ne!(n_desc.0 & object::macho::N_NO_DEAD_STRIP.0, 0, "{triple}: no N_NO_DEAD_STRIP");
            }
            f => panic!("{triple}: not Mach-O symbol flags: {f:?}"),
        }
        let json = fp_json(&obj);
        assert!(json.contains(&format!("\"target\":\"{triple}\"")), "{json}");
        assert!(text(&o.stderr).contains(&fp(&obj)), "the wrote line names the fingerprint");
        // An executable for macOS is one clear line.
        let e = truk().args(["build", "--target", triple]).arg(&src).arg("-o").arg(s.0.join("exe")).output().unwrap();
        assert!(!e.status.success());
        let err = text(&e.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("linking for macOS is not supported here") && err.contains("--emit obj"), "{err}");
        assert!(!s.0.join("exe").exists());
    }
}

#[test]
fn targets_lists_every_target_and_bad_ones_are_one_line() {
    let o = truk().arg("targets").output().unwrap();
    let out = text(&ok(&o).stdout);
    for t in ["x86_64-unknown-linux-gnu", ARM, "x86_64-apple-darwin", "aarch64-apple-darwin"] {
        assert!(out.lines().any(|l| l.starts_with(t)), "{t} missing:\n{out}");
    }
    assert!(out.lines().any(|l| l.contains("(native)")), "{out}");
    let s = Scratch::new("bad");
    let src = s.write("hello.truk", "fn main() : i32 { return 0; }\n");
    for args in [vec!["build", "--target", "riscv64-unknown-linux-gnu"], vec!["run", "--target", "mips-x"]] {
        let e = truk().args(&args).arg(&src).output().unwrap();
        assert!(!e.status.success());
        let err = text(&e.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: unsupported target"), "{err}");
    }
}

/// With nothing on PATH, a cross build and a foreign run each fail with one line that names
/// the Debian packages to install.
#[test]
fn a_missing_cross_toolchain_or_qemu_names_the_packages() {
    if std::env::consts::ARCH == "aarch64" {
        eprintln!("skipping: aarch64 is native here");
        return;
    }
    let s = Scratch::new("missing");
    let src = s.write("hello.truk", "fn main() : i32 { return 0; }\n");
    let empty = s.0.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let e = truk().env("PATH", &empty).args(["build", "--target", ARM]).arg(&src).arg("-o").arg(s.0.join("x")).output().unwrap();
    let err = text(&e.stderr);
    assert!(!e.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("gcc-aarch64-linux-gnu"), "{err}");
    let e = truk().env("PATH", &empty).args(["run", "--target", ARM]).arg(&src).output().unwrap();
    let err = text(&e.stderr);
    assert!(!e.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("qemu-user"), "{err}");
}
