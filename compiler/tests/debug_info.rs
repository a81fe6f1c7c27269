//! DWARF line tables: gdb stops on Truk source lines in debug builds, `--release -g` keeps
//! them, `-g0` and plain `--release` have none. Tests that need gdb, readelf or the aarch64
//! cross toolchain say so and return when it is absent (ci/setup installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{text, truk, Scratch};

/// Writes `PROG` as `prog.truk` in `s` and builds it with `flags` into `out`.
fn build(s: &Scratch, out: &str, flags: &[&str]) -> PathBuf {
    build_source(s, "prog.truk", PROG, out, flags)
}

fn build_source(s: &Scratch, name: &str, source: &str, out: &str, flags: &[&str]) -> PathBuf {
    let src = s.write(name, source);
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
    gdb_in_ns(exe, commands, None)
}

/// `gdb`, with the program run in fleet namespace `ns` when given.
fn gdb_in_ns(exe: &Path, commands: &[&str], ns: Option<&str>) -> Option<String> {
    if !program_exists("gdb") {
        eprintln!("skipping: gdb is missing (ci/setup installs it)");
        return None;
    }
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch"]);
    if let Some(ns) = ns {
        cmd.env("TRUK_FLEET_NS", ns);
    }
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
    assert!(out.contains("add (a=3, b=4) at ") && out.contains("prog.truk:4"), "{out}");
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
    assert!(ir.contains("!\"Dwarf Version\", i32 5"), "{ir}");
    // No name index (`.debug_names`): gdb would trust it and miss the C runtime's units.
    assert!(ir.contains("nameTableKind: None"), "{ir}");
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

// ---- variables -----------------------------------------------------------------------------

/// Locals, parameters and globals of many types. Line 43 is the `printf` of `main`, line 23
/// the first statement of `area`.
const VARS: &str = "extern fn printf(fmt: *i8, ...args) : i32;

struct Point {
    x: i32,
    y: i64,
}

struct Node {
    value: i32,
    next: *Node,
}

enum Color : i32 {
    Red = 1,
    Green = 2,
}

var counter: i32 = 42;
var origin: Point = Point { x: 7, y: 8 };
shared var hits: i64 = 5;

fn area(p: *Point, scale: i64, pt: Point, row: [3]u16) : i64 {
    var r: i64 = p->y * scale + pt.x as i64 + row[1] as i64;
    return r;
}

fn main() : i32 {
    var arr: [5]i32 = [10, 11, 12, 13, 14];
    var pt: Point = Point { x: 3, y: 4 };
    var p: *Point = &pt;
    var n2: Node = Node { value: 2, next: nil };
    var n1: Node = Node { value: 1, next: &n2 };
    var c: Color = Color.Green;
    var flag: bool = true;
    var f: f64 = 2.5;
    var s: []i32 = make(@i32, 3);
    s[1] = 77;
    var big: [300000]i32;
    big[299999] = -6;
    var small: u8 = 200;
    hits += 1;
    var a: i64 = area(p, 2, pt, [5 as u16, 6 as u16, 7 as u16]) + counter as i64 + origin.y;
    printf(\"%ld %d %d\\n\", a, s[1], big[299999]);
    return 0;
}
";

/// Builds `VARS` as `vars.truk` with `flags` into `out`. It uses a shared variable: runs go
/// in a `Fleet`'s namespace, whose guard removes the region a run under gdb leaves.
fn build_vars(s: &Scratch, out: &str, flags: &[&str]) -> PathBuf {
    build_source(s, "vars.truk", VARS, out, flags)
}

/// `gdb` with the program run in the namespace of `fleet`.
fn gdb_in(fleet: &Fleet, exe: &Path, commands: &[&str]) -> Option<String> {
    gdb_in_ns(exe, commands, Some(&fleet.ns))
}

mod fleet_support;
use fleet_support::Fleet;

#[test]
fn gdb_prints_locals_of_every_kind_of_type() {
    let s = Scratch::new("locals");
    let exe = build_vars(&s, "vars", &[]);
    let fleet = Fleet::new("dbg-locals", &exe);
    let commands = [
        "break vars.truk:43",
        "run",
        "info locals",
        "print p->y",
        "print arr[3]",
        "print n1.next->value",
        "print *n1.next",
        "print s.ptr[1]",
        "print s.len",
        "print big[299999]",
        "print c",
        "print/d c",
        "ptype n1",
    ];
    let Some(out) = gdb_in(&fleet, &exe, &commands) else { return };
    for want in [
        "arr = {10, 11, 12, 13, 14}",
        "pt = {x = 3, y = 4}",
        "n2 = {value = 2, next = 0x0}",
        "c = Green",
        "flag = true",
        "f = 2.5",
        "small = 200",
        "$1 = 4\n",
        "$2 = 13\n",
        "$3 = 2\n",
        "$4 = {value = 2, next = 0x0}",
        "$5 = 77\n",
        "$6 = 3\n",
        "$7 = -6\n",
        "$8 = Green\n",
        "$9 = 2\n",
        "struct Node *next;",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // A pointer local and a slice show their addresses and length.
    assert!(out.contains("p = 0x"), "{out}");
    assert!(out.contains("s = {ptr = 0x") && out.contains("len = 3}"), "{out}");
    // Temporaries of the lowering have no name and stay out of sight.
    assert!(!out.contains(" = <optimized out>") && !out.contains("\n = "), "{out}");
}

#[test]
fn gdb_prints_parameters_globals_and_shared_variables() {
    let s = Scratch::new("args");
    let exe = build_vars(&s, "vars", &[]);
    let fleet = Fleet::new("dbg-args", &exe);
    let commands = ["break area", "run", "info args", "print pt.x", "print *p", "print row[2]", "print counter", "print origin.y", "print shared.hits"];
    let Some(out) = gdb_in(&fleet, &exe, &commands) else { return };
    // Scalars, a pointer, and aggregates the caller passed by address (a struct, an array).
    for want in ["scale = 2\n", "pt = {x = 3, y = 4}", "row = {5, 6, 7}", "$1 = 3\n", "$2 = {x = 3, y = 4}", "$3 = 7\n", "$4 = 42\n", "$5 = 8\n", "$6 = 6\n"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(out.contains("area (p=0x"), "{out}");
}

#[test]
fn the_ir_declares_variables_and_optimized_builds_keep_working() {
    let s = Scratch::new("vars-ir");
    let ll = build_vars(&s, "vars.ll", &["--emit", "llvm-ir"]);
    let ir = std::fs::read_to_string(ll).unwrap();
    assert!(ir.contains("!DILocalVariable(name: \"arr\""), "{ir}");
    assert!(ir.contains("!DILocalVariable(name: \"scale\", arg: 2"), "{ir}");
    assert!(ir.contains("!DIGlobalVariable(name: \"counter\""), "{ir}");
    assert!(ir.contains("!DICompositeType(tag: DW_TAG_enumeration_type, name: \"Color\""), "{ir}");
    // Optimized code has variables too (some optimized out): it builds and runs the same.
    let exe = build_vars(&s, "vars-release", &["--release", "-g"]);
    let fleet = Fleet::new("dbg-release", &exe);
    let run = fleet.command(&exe, &[]).output().unwrap();
    assert_eq!(text(&run.stdout), "67 77 -6\n", "{}", text(&run.stderr));
}

#[test]
fn gdb_multiarch_prints_variables_of_an_aarch64_program_under_qemu() {
    let Some(runner) = fleet_support::arm_runner() else { return };
    if runner.is_empty() {
        // An aarch64 host: the native tests above cover it.
        return;
    }
    if !program_exists("gdb-multiarch") {
        eprintln!("skipping: gdb-multiarch is missing (ci/setup installs it)");
        return;
    }
    let s = Scratch::new("arm-vars");
    let exe = build_vars(&s, "vars-arm", &["--target", "aarch64-unknown-linux-gnu"]);
    let mut fleet = Fleet::under("dbg-arm", &exe, runner.clone());
    // A port that was free a moment ago: qemu waits there for gdb before the first instruction.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut qemu = Command::new(&runner[0]);
    qemu.args(&runner[1..]).args(["-g", &port]).arg(&exe).env("TRUK_FLEET_NS", &fleet.ns);
    fleet.start_command(qemu);
    let sysroot = runner.iter().skip_while(|a| *a != "-L").nth(1).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let out = Command::new("gdb-multiarch")
        .args(["-nx", "-batch"])
        .args(["-ex", &format!("set sysroot {sysroot}"), "-ex", "set tcp connect-timeout 30"])
        .args(["-ex", &format!("target remote 127.0.0.1:{port}")])
        .args(["-ex", "break vars.truk:43", "-ex", "continue", "-ex", "info locals", "-ex", "print p->y", "-ex", "print arr[3]"])
        .args(["-ex", "print n1.next->value", "-ex", "print big[299999]", "-ex", "print counter", "-ex", "print shared.hits", "-ex", "kill"])
        .arg(&exe)
        .output()
        .unwrap();
    let out = text(&out.stdout) + &text(&out.stderr);
    for want in ["arr = {10, 11, 12, 13, 14}", "pt = {x = 3, y = 4}", "c = Green", "f = 2.5", "$1 = 4\n", "$2 = 13\n", "$3 = 2\n", "$4 = -6\n", "$5 = 42\n", "$6 = 6\n"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// Two loops, each with its own `i`; a block with its own local. Lines 10 and 14 stop in the
/// second loop and in the `if` block.
const SCOPES: &str = "extern fn printf(fmt: *i8, ...args) : i32;

fn main() : i32 {
    var total: i64 = 0;
    for var i: i64 = 0; i < 3; i += 1 {
        total += i;
    }
    for var i: i64 = 10; i < 12; i += 1 {
        var sq: i64 = i * i;
        total += sq;
    }
    if total > 0 {
        var twice: i64 = total * 2;
        printf(\"%ld\\n\", twice);
    }
    return 0;
}
";

#[test]
fn gdb_tells_apart_two_locals_of_one_name_by_their_blocks() {
    let s = Scratch::new("scopes");
    let exe = build_source(&s, "scopes.truk", SCOPES, "scopes", &[]);
    let commands = ["break scopes.truk:10", "break scopes.truk:14", "run", "print i", "print sq", "delete 1", "continue", "info locals"];
    let Some(out) = gdb(&exe, &commands) else { return };
    // The second loop's `i`, not the first one's (3 when it ended).
    assert!(out.contains("$1 = 10\n") && out.contains("$2 = 100\n"), "{out}");
    // In the `if` block: its local and the function's, not the loops'.
    let locals = out.rsplit("printf(").next().unwrap();
    assert!(locals.contains("twice = 448") && locals.contains("total = 224"), "{out}");
    assert!(!locals.contains("i = ") && !locals.contains("sq = "), "{out}");
}
