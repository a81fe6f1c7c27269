//! DWARF line tables: gdb stops on Truk source lines in debug builds, `--release -g` keeps
//! them, `-g0` and plain `--release` have none. Tests that need gdb, readelf or the aarch64
//! cross toolchain say so and return when it is absent (ci/setup installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{text, truk, Scratch};

/// Writes `PROG` as `prog.truk` in `s` and builds it with `flags` into `out`.
fn build(s: &Scratch, out: &str, flags: &[&str]) -> PathBuf {
    let src = s.write("prog.truk", PROG);
    let exe = s.0.join(out);
    let o = truk().arg("build").args(flags).arg(&src).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success(), "build {flags:?} failed: {}", text(&o.stderr));
    exe
}

/// The first statement of `add` is line 4, of `main` line 9; `add` is called on line 10.
const PROG: &str = "extern fn printf(fmt: *i8, ...args) : i32;\n\
\n\
fn add(a: i32, b: i32) : i32 {\n\
    var s: i32 = a + b;\n\
    return s;\n\
}\n\
\n\
fn main() : i32 {\n\
    var x: i32 = 3;\n\
    var y: i32 = add(x, 4);\n\
    printf(\"%d\\n\", y);\n\
    return 0;\n\
}\n";

fn program_exists(p: &str) -> bool {
    Command::new(p).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Runs `exe` under gdb in batch mode with `commands`; `None` (and a message) without gdb.
fn gdb(exe: &Path, commands: &[&str]) -> Option<String> {
    if !program_exists("gdb") {
        eprintln!("skipping: gdb is missing (ci/setup installs it)");
        return None;
    }
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch"]);
    for c in commands {
        cmd.arg("-ex").arg(c);
    }
    let o: Output = cmd.arg(exe).output().unwrap();
    Some(text(&o.stdout) + &text(&o.stderr))
}

/// The decoded line table of `exe`; `None` (and a message) without readelf.
fn line_table(exe: &Path) -> Option<String> {
    if !program_exists("readelf") {
        eprintln!("skipping: readelf is missing (binutils)");
        return None;
    }
    let o = Command::new("readelf").arg("--debug-dump=decodedline").arg(exe).output().unwrap();
    Some(text(&o.stdout))
}

#[test]
fn break_main_stops_on_the_first_line_of_the_truk_main() {
    let s = Scratch::new("main");
    let exe = build(&s, "prog", &[]);
    let Some(out) = gdb(&exe, &["break main", "run", "info line", "bt"]) else { return };
    // One location: not the C runtime's entry, which runs first.
    assert!(out.contains("file prog.truk, line 9."), "{out}");
    assert!(!out.contains("locations"), "{out}");
    assert!(out.contains("main () at ") && out.contains("prog.truk:9"), "{out}");
    assert!(out.contains("Line 9 of \"") && out.contains("prog.truk\""), "{out}");
}

#[test]
fn a_breakpoint_on_another_function_stops_at_its_first_statement() {
    let s = Scratch::new("fn");
    let exe = build(&s, "prog", &[]);
    let Some(out) = gdb(&exe, &["break add", "run", "bt"]) else { return };
    assert!(out.contains("file prog.truk, line 4."), "{out}");
    assert!(out.contains("add () at ") && out.contains("prog.truk:4"), "{out}");
    assert!(out.contains("in main () at ") && out.contains("prog.truk:10"), "the caller's line: {out}");
}

#[test]
fn release_with_g_keeps_line_tables_and_g0_drops_them() {
    let s = Scratch::new("release");
    let cases = [(&["--release", "-g"][..], true), (&["--release"][..], false), (&["-g0"][..], false), (&[][..], true)];
    for (i, (flags, lines)) in cases.into_iter().enumerate() {
        let exe = build(&s, &format!("prog{i}"), flags);
        let run = Command::new(&exe).output().unwrap();
        assert_eq!(text(&run.stdout), "7\n", "{flags:?}");
        let Some(table) = line_table(&exe) else { return };
        assert_eq!(table.contains("prog.truk"), lines, "{flags:?}: {table}");
        // Without debug info, the runtime's own DWARF is not shipped either.
        let has_debug_section = object_sections(&exe).iter().any(|n| n.starts_with(".debug_"));
        assert_eq!(has_debug_section, lines, "{flags:?}");
    }
}

fn object_sections(exe: &Path) -> Vec<String> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(exe).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.sections().filter_map(|s| s.name().ok().map(str::to_string)).collect()
}

#[test]
fn debug_info_is_in_the_fingerprint_only_when_it_departs_from_the_profile() {
    let s = Scratch::new("fp");
    let fp = |flags: &[&str]| {
        let exe = build(&s, "prog", flags);
        let o = truk().arg("fp").arg(&exe).output().unwrap();
        text(&o.stdout)
    };
    assert_ne!(fp(&["--release", "-g"]), fp(&["--release"]));
    assert_ne!(fp(&["-g0"]), fp(&[]));
    assert_eq!(fp(&["-g"]), fp(&[]), "debug builds have it anyway");
}

#[test]
fn the_ir_has_a_subprogram_per_function_and_the_module_flags() {
    let s = Scratch::new("ir");
    let ll = build(&s, "prog.ll", &["--emit", "llvm-ir"]);
    let ir = std::fs::read_to_string(ll).unwrap();
    assert!(ir.contains("!\"Dwarf Version\", i32 4"), "{ir}");
    assert!(ir.contains("!\"Debug Info Version\""), "{ir}");
    assert!(ir.contains("distinct !DISubprogram(name: \"main\", linkageName: \"main\""), "not its symbol truk_main: {ir}");
    assert!(ir.contains("distinct !DISubprogram(name: \"add\", linkageName: \"add\""), "{ir}");
    assert!(ir.contains("!DILocation(line: 10, column: "), "{ir}");
    // The entry gets an artificial one: the optimizer inlines `main` into it.
    assert!(ir.contains("!DISubprogram(name: \"__truk_main\", linkageName: \"__truk_main\", scope: !3, file: !3, type: "), "{ir}");
    assert!(ir.contains("flags: DIFlagArtificial, spFlags: DISPFlagDefinition, unit: "), "{ir}");
}

#[test]
fn aarch64_executables_link_with_line_tables() {
    let native = std::env::consts::ARCH == "aarch64";
    if !native && !(program_exists("aarch64-linux-gnu-gcc") && Path::new("/usr/aarch64-linux-gnu/lib/crt1.o").is_file()) {
        eprintln!("skipping: the aarch64 cross toolchain is missing (ci/setup installs it)");
        return;
    }
    let s = Scratch::new("arm");
    let exe = build(&s, "prog", &["--target", "aarch64-unknown-linux-gnu"]);
    let Some(table) = line_table(&exe) else { return };
    assert!(table.contains("prog.truk"), "{table}");
}

#[test]
fn g0_after_the_double_dash_is_the_programs_argument() {
    let s = Scratch::new("args");
    let src = s.0.join("args.truk");
    std::fs::write(&src, "extern fn printf(fmt: *i8, ...args) : i32;\nfn main(argc: i32, argv: **i8) : i32 {\n    printf(\"%s\\n\", argv[1]);\n    return 0;\n}\n").unwrap();
    let o = truk().args(["run", "-g0"]).arg(&src).args(["--", "-g0"]).output().unwrap();
    assert_eq!(text(&o.stdout), "-g0\n", "{}", text(&o.stderr));
}
