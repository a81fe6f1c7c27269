//! What a release binary without debug info carries: the runtime's local symbols (static
//! functions and variables, file names) are left out of its symbol table, the program's own
//! functions keep their names, and panics still name their place; nor are the imports, which
//! `.dynsym` lists; a program links only the map code of its key kinds. `-g` keeps everything.

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

/// The libc functions `exe` imports (`nm -D`, undefined).
fn imports(exe: &Path) -> Vec<String> {
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(exe).output().expect("nm runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().filter_map(|l| l.split_whitespace().last()).map(|s| s.split('@').next().unwrap().to_string()).collect()
}

/// A program links only the map code of its key kinds: integer keys bring no string
/// hashing or comparing (no strcmp, strdup, strlen, memcmp), string keys no float code.
#[test]
fn maps_link_only_the_code_of_their_key_kinds() {
    let dir = Scratch::new("rel-map-kinds");
    let build = |name: &str, key: &str, k1: &str, k2: &str| {
        let src = dir.write(&format!("{name}.truk"), &format!(
            "extern fn printf(fmt: *i8, ...args) : i32;\n\
             fn main() : i32 {{\n\
                 var m: map[{key}, i64] = make(@map[{key}, i64]);\n\
                 defer delete(m);\n\
                 m[{k1}] = 5;\n\
                 m[{k2}] = 7;\n\
                 delete(m[{k1}]);\n\
                 var p: *i64 = m[{k2}];\n\
                 var gone: i32 = 0;\n\
                 if m[{k1}] == nil {{ gone = 1; }}\n\
                 printf(\"%lld %d\\n\", *p, gone);\n\
                 return 0;\n\
             }}\n"));
        let exe = dir.0.join(name);
        let b = truk().args(["build", "--release"]).arg(&src).arg("-o").arg(&exe).output().unwrap();
        assert!(b.status.success(), "{}", text(&b.stderr));
        let run = Command::new(&exe).output().unwrap();
        assert_eq!(text(&run.stdout), "7 1\n", "{name}: {}", text(&run.stderr));
        (imports(&exe), Command::new("nm").arg(&exe).output().map(|o| text(&o.stdout)).unwrap())
    };
    let (libc, syms) = build("ints", "u64", "3", "1099511627776");
    for f in ["strcmp", "strdup", "strlen", "memcmp", "bcmp"] {
        assert!(!libc.contains(&f.to_string()), "a map of integer keys imports {f}: {libc:?}");
    }
    for f in ["_str", "_float"] {
        assert!(!syms.contains(f), "a map of integer keys links {f} code:\n{syms}");
    }
    let (libc, syms) = build("strs", "*u8", "\"one\"", "\"two\"");
    assert!(libc.contains(&"strcmp".to_string()), "strings compare with strcmp: {libc:?}");
    assert!(!syms.contains("_float") && !syms.contains("_int"), "a map of string keys links other kinds' code:\n{syms}");
}

/// A release binary's `.symtab` leaves out the imports, which `.dynsym` (what the loader,
/// gdb and `nm -D` read) still lists; a `-g` build keeps them.
#[test]
fn release_symbol_tables_leave_out_the_imports() {
    let dir = Scratch::new("rel-imports");
    let undefined = |exe: &Path| {
        let out = Command::new("nm").arg("--undefined-only").arg(exe).output().expect("nm runs");
        text(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let (exe, syms) = build(&dir, "rel", &["--release"]);
    assert_eq!(undefined(&exe), Vec::<String>::new(), "imports in .symtab");
    // The file's tail was laid out again in place: binutils reads it without a complaint.
    let readelf = Command::new("readelf").args(["-W", "-a"]).arg(&exe).output().expect("readelf runs");
    assert!(readelf.status.success() && readelf.stderr.is_empty(), "{}", text(&readelf.stderr));
    assert!(imports(&exe).contains(&"printf".to_string()), "printf is still imported: {:?}", imports(&exe));
    assert!(syms.iter().any(|s| s == "pick") && syms.iter().any(|s| s == "__truk_bounds_fail"), "{syms:?}");
    assert_eq!(Command::new(&exe).output().unwrap().status.code(), Some(101), "the program still runs (and panics)");
    let (exe_g, _) = build(&dir, "rel-g", &["--release", "-g"]);
    assert!(undefined(&exe_g).iter().any(|s| s.contains("printf")), "-g keeps the whole symbol table");
}
