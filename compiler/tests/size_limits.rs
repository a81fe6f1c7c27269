//! Snapshots of the size-limit diagnostics (`mir/limits.rs`): types too large for the
//! target, globals too large to link.

use truk_core::diag::{render_all, SourceMap};

fn check_for(src: &str, triple: &str) -> String {
    let mut sources = SourceMap::default();
    let file = sources.add("test.truk".into(), src.to_string());
    let (module, diags) = truk_core::syntax::parser::parse_module(&sources.file(file).text, file);
    assert!(diags.is_empty(), "{}", render_all(&diags, &sources));
    let (prog, diags) = truk_core::hir::check::check(&[module]);
    assert!(diags.is_empty(), "{}", render_all(&diags, &sources));
    let prog = truk_core::mir::lower(prog, triple);
    render_all(&truk_core::mir::limits::check(&prog, triple), &sources)
}

fn check(src: &str) -> String {
    check_for(src, "x86_64-unknown-linux-gnu")
}

#[test]
fn array_whose_size_wraps_past_2_64() {
    insta::assert_snapshot!(check(
        "fn main() : i32 {\n  var x: [65536][65536][65536][65536]u8;\n  x[1][2][3][4] = 5;\n  return x[1][2][3][4] as i32;\n}\n"
    ));
}

#[test]
fn the_limit_is_the_target_s_address_space() {
    let src = "var p: *[1 << 21][1 << 27]u8;\nfn main() : i32 {\n  return 0;\n}\n";
    insta::assert_snapshot!(check(src));
    assert_eq!(check_for(src, "aarch64-unknown-linux-gnu"), "", "2^48 bytes fit in aarch64 (limit 2^48)");
}

#[test]
fn tuple_struct_and_parameter_types() {
    insta::assert_snapshot!(check(
        "struct Fits { a: [1 << 31][1 << 15]u8, b: [1 << 31][1 << 15]u8, c: u8 }\nstruct Holds { f: Fits }\nfn f(t: ([1 << 31][1 << 31]u64, i32)) : i32 {\n  return 0;\n}\nfn main() : i32 {\n  return 0;\n}\n"
    ));
}

#[test]
fn globals_too_large_to_link() {
    insta::assert_snapshot!(check(
        "var a: [1 << 30]u8;\nvar b: [1 << 29]u64;\nvar c: [1 << 30]u8;\nshared var s: [1 << 30]u64;\nfn main() : i32 {\n  return 0;\n}\n"
    ));
}

#[test]
fn large_types_within_the_limits_are_accepted() {
    let src = "struct Big { a: [1 << 30]u64 }\nvar g: [1 << 30]u8;\nshared var s: [1 << 31][4]u64;\nfn f(p: *Big) : u64 {\n  var local: [1 << 24]u8;\n  return p->a[5] + local[3] as u64;\n}\nfn main() : i32 {\n  return 0;\n}\n";
    assert_eq!(check(src), "");
}

#[test]
fn shared_variables_past_the_address_space() {
    insta::assert_snapshot!(check(
        "shared var a: [1 << 31][1 << 15]u8;\nshared var b: [1 << 31][1 << 15]u8;\nshared var c: u8;\nfn main() : i32 {\n  return 0;\n}\n"
    ));
}
