//! Snapshots of the MIR of small programs, pretty-printed: the shape of the lowering.

use truk_core::diag::{render_all, SourceMap};

/// The program `src` lowered, and the index of its function `name`.
fn lowered(src: &str, name: &str) -> (truk_core::mir::Program, usize) {
    let mut sources = SourceMap::default();
    let file = sources.add("test.truk".into(), src.to_string());
    let (module, mut diags) = truk_core::syntax::parser::parse_module(&sources.file(file).text, file);
    let (prog, mut more) = truk_core::hir::check::check(&[module]);
    diags.append(&mut more);
    assert!(diags.is_empty(), "{}", render_all(&diags, &sources));
    let prog = truk_core::mir::lower(prog, "x86_64-unknown-linux-gnu");
    let id = prog.hir.funcs.iter().position(|f| f.name == name).expect("no such function");
    (prog, id)
}

/// The MIR of function `name` in `src`.
fn mir_of(src: &str, name: &str) -> String {
    let (prog, id) = lowered(src, name);
    truk_core::mir::pretty::function(&prog, id as u32, prog.bodies[id].as_ref().expect("no body"))
}

#[test]
fn defer_with_return_break_and_continue() {
    insta::assert_snapshot!(mir_of(
        r#"
fn g(v: i32) : i32 {
    return v * 2;
}

fn f(n: i32) : i32 {
    var x: i32 = 0;
    defer x = x + 1;
    for var i: i32 = 0; i < n; i += 1 {
        defer x = x + 10;
        if i == 3 {
            break;
        }
        {
            defer x = x + 100;
            if i == 1 {
                continue;
            }
        }
    }
    if n > 5 {
        return g(x);
    }
    return x;
}
"#,
        "f"
    ));
}

#[test]
fn match_on_int_and_enum() {
    insta::assert_snapshot!(mir_of(
        r#"
enum Color : i32 { RED, GREEN, BLUE }

fn f(c: Color, n: i32) : i32 {
    var r: i32 = 0;
    match n {
        case 1 => r = 10,
        case 2 => {
            defer r += 1;
            r = 20;
        }
        case 1 => r = 99,
        _ => r = -1,
    }
    match c {
        case Color.RED => return r,
        case Color.BLUE => return r + 2,
        _ => return 0,
    }
}
"#,
        "f"
    ));
}

#[test]
fn short_circuit_as_branch_and_as_value() {
    insta::assert_snapshot!(mir_of(
        r#"
fn f(a: i32, c: bool, d: bool) : bool {
    var b: bool = a > 0 && (c || d);
    if a > 1 || !(b && c) {
        return false;
    }
    return b;
}
"#,
        "f"
    ));
}

#[test]
fn while_loop_with_each() {
    insta::assert_snapshot!(mir_of(
        r#"
fn add(p: *i32, ctx: *i32) : bool {
    *ctx = *ctx + *p;
    return *ctx < 100;
}

fn f(xs: []i32) : i32 {
    var total: i32 = 0;
    var i: u64 = 0;
    while i < len(xs) {
        total += xs[i];
        i += 1;
    }
    each(xs, &total, add);
    return total;
}
"#,
        "f"
    ));
}

/// The MIR of function `name` as optimized builds compile it: loops versioned, and the
/// indexing that range facts prove marked `unchecked`.
fn optimized_mir_of(src: &str, name: &str) -> String {
    let (mut prog, id) = lowered(src, name);
    prog.bodies.iter_mut().flatten().for_each(truk_core::mir::bounds::version_loops);
    truk_core::mir::pretty::function_with_checks(&prog, id as u32, prog.bodies[id].as_ref().expect("no body"))
}

const BOUNDS: &str = r#"
fn swap(a: []u64, i: u64, j: u64) : void {
    var t: u64 = a[i];
    a[i] = a[j];
    a[j] = t;
}

fn fill(a: []u64, n: u64) : void {
    for var i: u64 = 0; i < n; i += 1 {
        a[i] = i;
    }
}

fn moved(a: []u64) : u64 {
    var i: u64 = 1;
    var x: u64 = a[i];
    i = x;
    return a[i];
}
"#;

#[test]
fn a_passed_check_covers_the_same_index_later() {
    // a[i] once checked is in bounds until i or a changes; a[j] is checked once.
    insta::assert_snapshot!(optimized_mir_of(BOUNDS, "swap"));
}

#[test]
fn a_changed_index_is_checked_again() {
    insta::assert_snapshot!(optimized_mir_of(BOUNDS, "moved"));
}

#[test]
fn a_loop_bounded_by_a_parameter_is_versioned() {
    // Before the loop, `n <= len(a)`: true, the copy without checks; false, the loop as
    // written, whose check panics at the first index past the end.
    insta::assert_snapshot!(optimized_mir_of(BOUNDS, "fill"));
}

const MORE_BOUNDS: &str = r#"
fn flip(a: []i64, k: i64) : void {
    var lo: i64 = 0;
    var hi: i64 = k;
    while lo < hi {
        var t: i64 = a[lo];
        a[lo] = a[hi];
        a[hi] = t;
        lo += 1;
        hi -= 1;
    }
}

fn insertion(a: []u64, lo: u64, hi: u64) : void {
    for var i: u64 = lo + 1; i < hi; i += 1 {
        var v: u64 = a[i];
        var j: u64 = i;
        while j > lo && v < a[j - 1] {
            a[j] = a[j - 1];
            j -= 1;
        }
        a[j] = v;
    }
}

fn matmul(a: []f64, b: []f64, c: []f64, n: u64) : void {
    for var i: u64 = 0; i < n; i += 1 {
        for var k: u64 = 0; k < n; k += 1 {
            var aik: f64 = a[i * n + k];
            for var j: u64 = 0; j < n; j += 1 {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
}
"#;

#[test]
fn a_signed_flip_is_versioned() {
    // `lo` from 0 and `hi` from `k`, signed, while `lo < hi`: `lo` is never negative, so
    // `lo < hi` holds unsigned too, and `hi` falls without wrapping. Tests of both against
    // `len(a)` before the loop (`lo`'s is 0's) cover every round.
    insta::assert_snapshot!(optimized_mir_of(MORE_BOUNDS, "flip"));
}

#[test]
fn insertion_sort_reads_one_below_a_counter_above_its_start() {
    // `a[j - 1]` with `lo < j` (so `j - 1` does not wrap) and `j <= i < hi <= len(a)`.
    insta::assert_snapshot!(optimized_mir_of(MORE_BOUNDS, "insertion"));
}

#[test]
fn a_row_major_nest_is_versioned_as_a_whole() {
    // `r * n + c` with `r < n`, `c < n`: in bounds where `n * n <= len` and `n` has at most
    // 32 bits (the product does not wrap): one test of each before the outer loop.
    insta::assert_snapshot!(optimized_mir_of(MORE_BOUNDS, "matmul"));
}

/// A function of `k` loops over a slice, each bounded by a parameter (so each may be
/// versioned), as optimized builds analyze it: the analysis steps it took, its statements
/// and blocks, and the blocks versioning added.
fn versioning_cost(k: usize) -> (u64, usize, usize) {
    let mut src = String::from("fn f(a: []u64, n: u64) : u64 {\n    var s: u64 = 0;\n");
    for j in 0..k {
        src += &format!("    for var j{j}: u64 = 0; j{j} < n; j{j} += 1 {{\n        a[j{j}] = a[j{j}] + j{j} * {j};\n        s += a[j{j}];\n    }}\n");
    }
    src += "    return s;\n}\n";
    let (mut prog, id) = lowered(&src, "f");
    let body = prog.bodies[id].as_mut().expect("no body");
    let size = body.blocks.iter().map(|b| b.stmts.len() + 1).sum();
    let blocks = body.blocks.len();
    let start = truk_core::mir::bounds::analysis_steps();
    truk_core::mir::bounds::version_loops(body);
    let unchecked = truk_core::mir::bounds::unchecked(body);
    assert!(!unchecked.is_empty());
    (truk_core::mir::bounds::analysis_steps() - start, size, body.blocks.len() - blocks)
}

#[test]
fn loop_versioning_costs_linear_steps() {
    let (s100, n100, b100) = versioning_cost(100);
    let (s400, n400, b400) = versioning_cost(400);
    eprintln!("100 loops: {s100} steps, {n100} statements and blocks, {b100} blocks added; 400: {s400}, {n400}, {b400}");
    assert!(b100 > 0 && b400 > 0, "no loop was versioned");
    // Linear: the function analyzed a few times over, not once per loop tried.
    assert!(s400 <= 5 * s100, "{s400} steps for 400 loops, {s100} for 100");
    assert!(s400 as usize <= 4 * n400, "{s400} steps for {n400} statements and blocks");
}
