//! Properties of the generated LLVM IR that decide speed, not behaviour: natural alignment
//! of 8-byte loads and stores, failure paths declared cold and noreturn, map keys passed by
//! value to the map's entry points of their kind (integer keys looked up inline in release
//! builds), aggregate parameters `noalias` and dereferenceable, bools stored as bytes.

mod common;

use common::{text, truk, Scratch};

const PROGRAM: &str = r#"
struct Body {
    id: i32,
    mass: f64,
    next: *Body,
}

fn main() : i32 {
    var xs: []i64 = make(@i64, 8);
    defer delete(xs);
    var bs: []Body = make(@Body, 2);
    defer delete(bs);
    var m: map[i32, f64] = make(@map[i32, f64]);
    defer delete(m);
    for var i: u64 = 0; i < len(xs); i += 1 {
        xs[i] = i as i64 * 3;
        m[i as i32] = i as f64;
    }
    bs[1].mass = 2.5;
    bs[1].next = &bs[0];
    delete(m[3]);
    var p: *f64 = m[4];
    return (xs[7] + bs[1].mass as i64 + *p as i64) as i32;
}
"#;

/// The program's IR, unoptimized, so that every access and check is still there.
fn ir(dir: &Scratch) -> String {
    ir_of(dir, PROGRAM)
}

fn ir_of(dir: &Scratch, program: &str) -> String {
    ir_with(dir, program, &[])
}

fn ir_with(dir: &Scratch, program: &str, flags: &[&str]) -> String {
    let src = dir.write("main.truk", program);
    let ll = dir.0.join("main.ll");
    let b = truk().arg("build").args(flags).args(["--emit", "llvm-ir"]).arg(&src).arg("-o").arg(&ll).output().unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    std::fs::read_to_string(&ll).unwrap()
}

#[test]
fn eight_byte_loads_and_stores_are_eight_aligned() {
    let dir = Scratch::new("cg-align");
    let ir = ir(&dir);
    let wide = |l: &&str| {
        let l = l.trim();
        ["load i64,", "load double,", "load ptr,", "store i64 ", "store double ", "store ptr "]
            .iter()
            .any(|k| l.contains(k))
    };
    let lines: Vec<&str> = ir.lines().filter(wide).collect();
    assert!(lines.len() > 5, "the program has 8-byte loads and stores:\n{ir}");
    let misaligned: Vec<&&str> = lines.iter().filter(|l| !l.contains(", align 8")).collect();
    assert!(misaligned.is_empty(), "8-byte accesses not 8-aligned:\n{misaligned:#?}");
}

#[test]
fn failure_paths_are_cold_and_noreturn() {
    let dir = Scratch::new("cg-cold");
    let ir = ir(&dir);
    let decl = ir.lines().find(|l| l.starts_with("declare") && l.contains("@__truk_bounds_fail(")).expect("a bounds check");
    let group = decl.rsplit('#').next().unwrap().trim();
    let attrs = ir.lines().find(|l| l.starts_with(&format!("attributes #{group} "))).expect("its attributes");
    for a in ["cold", "noreturn"] {
        assert!(attrs.contains(a), "{decl}\n{attrs}");
    }
}

#[test]
fn integer_map_keys_go_by_value() {
    let dir = Scratch::new("cg-map");
    let ir = ir(&dir);
    for f in ["@__truk_map_get_int(ptr", "@__truk_map_upsert_int(ptr", "@__truk_map_remove_int(ptr"] {
        assert!(ir.contains(f), "no call of {f}");
    }
    for kind in ["str", "float"] {
        assert!(!ir.contains(&format!("_{kind}(")), "a map of integer keys calls the {kind} entry points:\n{ir}");
    }
}

#[test]
fn string_and_float_map_keys_go_by_value_to_their_own_entry_points() {
    let dir = Scratch::new("cg-map-kinds");
    let program = r#"
fn main() : i32 {
    var s: map[*u8, i32] = make(@map[*u8, i32]);
    defer delete(s);
    var f: map[f32, i32] = make(@map[f32, i32]);
    defer delete(f);
    s["a"] = 1;
    f[1.5 as f32] = 2;
    delete(s["a"]);
    delete(f[1.5 as f32]);
    if s["b"] == nil && f[2.5 as f32] == nil { return 0; }
    return 1;
}
"#;
    let ir = ir_of(&dir, program);
    for op in ["get", "upsert", "remove"] {
        for kind in ["str", "float"] {
            let call = format!("@__truk_map_{op}_{kind}(ptr %");
            assert!(ir.lines().any(|l| l.contains("call ") && l.contains(&call)), "no call of {op}_{kind}:\n{ir}");
        }
    }
    let decl = ir.lines().find(|l| l.starts_with("declare") && l.contains("@__truk_map_get_float(")).expect("a float lookup");
    assert!(decl.contains("(ptr, double)"), "an f32 key goes widened to double: {decl}");
    let decl = ir.lines().find(|l| l.starts_with("declare") && l.contains("@__truk_map_get_str(")).expect("a string lookup");
    assert!(decl.contains("(ptr, ptr)"), "a string key goes as its pointer: {decl}");
    assert!(!ir.contains("_int("), "no integer entry point for string and float keys:\n{ir}");
}

#[test]
fn release_builds_look_integer_keys_up_inline() {
    let dir = Scratch::new("cg-map-inline");
    let ir = ir_with(&dir, PROGRAM, &["--release"]);
    // The runtime's upsert stays for a nil map, the first insert and a rebuild.
    assert!(ir.contains("call ptr @__truk_map_upsert_int("), "no insert left to the runtime:\n{ir}");
    assert!(!ir.contains("call ptr @__truk_map_get_int("), "a lookup calls the runtime:\n{ir}");
    assert!(!ir.contains("call void @__truk_map_remove_int("), "a delete calls the runtime:\n{ir}");
}

#[test]
fn release_make_is_malloc_never_calloc() {
    // glibc's calloc skips the thread cache: make(@T) is malloc and a zeroing, which must
    // not be folded back into calloc where the zeroing stays (the fields are read).
    let dir = Scratch::new("cg-make");
    let program = r#"
extern fn getpid() : i32;
struct N { a: i64, b: f64, c: *N }
var seen: *N;
fn main() : i32 {
    var n: *N = make(@N);
    seen = n;
    getpid();
    return seen->a as i32;
}
"#;
    let ir = ir_with(&dir, program, &["--release"]);
    assert!(ir.contains("call ptr @malloc(") || ir.contains(") ptr @malloc("), "{ir}");
    assert!(!ir.contains("@calloc(") && !ir.contains("@__truk_alloc("), "{ir}");
}

#[test]
fn aggregate_parameters_are_noalias_but_arrays_are_not() {
    // Slices and structs arrive as pointers to the caller's copy for this call alone, a
    // whole aligned value; a sized array is the caller's own array.
    let dir = Scratch::new("cg-noalias");
    let ir = ir_of(
        &dir,
        r#"
struct P { a: i64, b: i64 }
fn f(xs: []i64, p: P, arr: [4]i64) : i64 { xs[0] = p.a; return xs[0] + arr[1]; }
fn main() : i32 {
    var xs: []i64 = make(@i64, 1);
    defer delete(xs);
    var arr: [4]i64 = [1, 2, 3, 4];
    return f(xs, P { a: 1, b: 2 }, arr) as i32;
}
"#,
    );
    let def = ir.lines().find(|l| l.starts_with("define") && l.contains("@f(")).expect("f is defined");
    let params: Vec<&str> = def.split_once("@f(").unwrap().1.split(',').collect();
    assert!(params[0].contains("noalias") && params[1].contains("noalias"), "{def}");
    assert!(!params[2].contains("noalias"), "{def}");
    for p in &params[..2] {
        assert!(p.contains("nonnull") && p.contains("align 8") && p.contains("dereferenceable(16)"), "{def}");
    }
    assert!(!params[2].contains("dereferenceable"), "{def}");
}

#[test]
fn release_struct_comparisons_select_instead_of_branching() {
    // A struct parameter is a whole value, so LLVM may load `a.id` before knowing the keys
    // are equal: the comparison is a select, not a second data-dependent branch (sorting
    // structs ran 1.06x of C's time on those mispredictions).
    let dir = Scratch::new("cg-struct-select");
    let ir = ir_with(
        &dir,
        r#"
struct R { key: u32, id: u32, w: f64 }
fn less(a: R, b: R) : bool {
    if a.key != b.key {
        return a.key < b.key;
    }
    return a.id < b.id;
}
fn main(argc: i32, argv: **i8) : i32 {
    var n: u64 = argc as u64 * 1000;
    var xs: []R = make(@R, n);
    defer delete(xs);
    for var i: u64 = 0; i < n; i += 1 {
        xs[i] = R{key: (i * 7 % 5) as u32, id: i as u32, w: 0.0};
    }
    var i: u64 = 0;
    while i < n && less(xs[i], xs[n / 2]) {
        i += 1;
    }
    return i as i32;
}
"#,
        &["--release"],
    );
    assert!(ir.contains(" select "), "less() is still two branches:\n{ir}");
}

#[test]
fn checks_that_cannot_fail_are_not_emitted() {
    // A constant divisor other than 0 and -1, a constant index within an array's length:
    // no failure path (less IR for LLVM to select or optimize). Unknown ones keep theirs.
    let dir = Scratch::new("cg-known-checks");
    let known = ir_of(
        &dir,
        r#"
fn f(x: i32, u: u64) : i32 {
    var arr: [4]i32 = [1, 2, 3, 4];
    return x / 7 + x % 97 + (u % 10) as i32 + arr[2];
}
fn main() : i32 { return f(100, 5); }
"#,
    );
    let body = |ir: &str| ir.split("@f(").nth(1).and_then(|f| f.split("\n}\n").next()).expect("f is defined").to_string();
    let f = body(&known);
    // Failure calls go through a stub per source file (`@__truk_bounds_fail.f0(`).
    for call in ["@__truk_div_fail", "@__truk_div_overflow", "@__truk_bounds_fail"] {
        assert!(!f.contains(call), "{call} in a function whose checks all pass:\n{f}");
    }
    let unknown = ir_of(
        &dir,
        r#"
fn f(x: i32, y: i32, i: u64) : i32 {
    var arr: [4]i32 = [1, 2, 3, 4];
    return x / y + arr[i];
}
fn main() : i32 { return f(100, 5, 1); }
"#,
    );
    let f = body(&unknown);
    assert!(f.contains("@__truk_div_fail") && f.contains("@__truk_div_overflow"), "a zero and an overflow check:\n{f}");
    assert!(f.contains("@__truk_bounds_fail"), "a bounds check:\n{f}");
}

#[test]
fn check_sites_share_their_file_name() {
    // A place is the file's name (one string) and the line and column as an immediate; a
    // debug build's sites call one stub per file and failure, which adds the name.
    let dir = Scratch::new("cg-sites");
    let program = r#"
fn f(s: []u64, p: *u64, i: u64, j: u64) : u64 {
    return s[i] + s[j] + *p + s[i + j];
}
fn main() : i32 { var s: []u64 = make(@u64, 4); var x: u64 = 3; return f(s, &x, 1, 2) as i32; }
"#;
    let ir = ir_of(&dir, program);
    let names: Vec<&str> = ir.lines().filter(|l| l.starts_with("@.str") && l.contains("main.truk")).collect();
    assert_eq!(names.len(), 1, "one string names the file:\n{names:#?}");
    assert!(!names[0].contains("main.truk:"), "no FILE:LINE:COL string:\n{}", names[0]);
    let f = ir.split("@f(").nth(1).and_then(|f| f.split("\n}\n").next()).expect("f is defined");
    let sites = f.matches("call void @__truk_bounds_fail.f0(i64").count();
    assert_eq!(sites, 3, "three bounds checks through the file's stub:\n{f}");
    let at = 3u64 << 32 | 12; // s[i]: line 3, column 12
    assert!(f.contains(&format!(", i64 {at})")), "the first index's place:\n{f}");
    assert!(f.contains("call void @__truk_nil_fail.f0(i64 "), "the nil check through its stub:\n{f}");
    assert_eq!(ir.matches("define internal void @__truk_bounds_fail.f0(").count(), 1, "one stub:\n{ir}");
}

/// Bools of every kind of place: locals, struct fields, arrays, slices, globals, tuples.
const BOOLS: &str = r#"
struct F { on: bool, n: i64 }
var g: bool = true;
var gs: [3]bool = [true, false, true];
fn flip(f: *F) : bool { f->on = !f->on; return f->on; }
fn pair(b: bool) : (bool, i32) { return b, 4; }
fn main() : i32 {
    var f: F = F { on: g, n: 2 };
    var xs: []bool = make(@bool, 64);
    defer delete(xs);
    for var i: u64 = 0; i < len(xs); i += 1 {
        xs[i] = i % 3 == 0;
    }
    let ok, four = pair(xs[3]);
    var a: [2]bool = [flip(&f), gs[1]];
    if ok && four == 4 && !a[0] && !a[1] && f.n == 2 { return 7; }
    return 1;
}
"#;

#[test]
fn bools_are_bytes_in_memory() {
    // As C's `_Bool`: an `i1` in memory kept LLVM from vectorizing loops over `[]bool` or
    // turning them into memset (the sieve of bench/codegen ran 1.2x clang's instructions).
    let dir = Scratch::new("cg-bool-bytes");
    let ir = ir_of(&dir, BOOLS);
    let in_memory = |l: &&str| {
        let l = l.trim();
        l.contains("alloca i1") || l.contains("load i1,") || l.contains("store i1 ") || (l.contains(" = type ") && l.contains("i1"))
            || (l.starts_with('@') && l.contains(" i1 "))
    };
    let bad: Vec<&str> = ir.lines().filter(in_memory).collect();
    assert!(bad.is_empty(), "bools as i1 in memory:\n{bad:#?}");
    assert!(ir.contains("%struct.F = type { i8, i64 }"), "{ir}");
    assert!(ir.contains("load i8,") && ir.contains("store i8 "), "{ir}");
    let run = truk().arg("run").arg(dir.0.join("main.truk")).output().unwrap();
    assert_eq!(run.status.code(), Some(7), "{}", text(&run.stderr));
}

#[test]
fn release_loops_over_bools_are_vectorized() {
    let dir = Scratch::new("cg-bool-vector");
    let ir = ir_with(
        &dir,
        r#"
fn count(limit: u64) : u64 {
    var composite: []bool = make(@bool, limit + 1);
    defer delete(composite);
    for var i: u64 = 0; i <= limit; i += 1 {
        composite[i] = false;
    }
    var n: u64 = 0;
    for var i: u64 = 0; i <= limit; i += 1 {
        if !composite[i] { n += 1; }
    }
    return n;
}
fn main() : i32 { return count(100) as i32; }
"#,
        &["--release"],
    );
    assert!(ir.contains("store <") || ir.contains("@llvm.memset"), "the zeroing loop is neither vectorized nor a memset:\n{ir}");
}

#[test]
fn a_small_function_with_a_versioned_loop_is_inlined() {
    // Heap sort's sift-down, called from two places: its loop is versioned (the test of
    // `end <= len(a)` proves its checks) without a copy of the loop: a failed test calls the
    // function as written (`sift_down.checked`, cold, never inlined, every check kept), so
    // the function stays small enough for LLVM to inline it at both calls.
    let dir = Scratch::new("cg-restart");
    let ir = ir_with(
        &dir,
        r#"
fn sift_down(a: []u64, start: u64, end: u64) : void {
    var root: u64 = start;
    while root * 2 + 1 < end {
        var child: u64 = root * 2 + 1;
        if child + 1 < end && a[child] < a[child + 1] {
            child += 1;
        }
        if a[root] >= a[child] {
            return;
        }
        var t: u64 = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}
fn heap_sort(a: []u64, n: u64) : void {
    for var start: u64 = n / 2; start > 0; start -= 1 {
        sift_down(a, start - 1, n);
    }
    for var end: u64 = n - 1; end > 0; end -= 1 {
        var t: u64 = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}
fn main(argc: i32, argv: **i8) : i32 {
    var n: u64 = argc as u64 * 1000;
    var a: []u64 = make(@u64, n);
    defer delete(a);
    for var i: u64 = 0; i < n; i += 1 {
        a[i] = (i * 7919) % 1000;
    }
    heap_sort(a, n);
    return a[n / 2] as i32;
}
"#,
        &["--release"],
    );
    assert!(!ir.contains("@sift_down("), "sift_down is not inlined:\n{ir}");
    let copy = ir.split("define internal fastcc void @sift_down.checked(").nth(1).and_then(|f| f.split("\n}\n").next()).expect("the checked copy");
    assert!(copy.contains("@__truk_bounds_fail("), "the copy keeps its checks:\n{copy}");
    let group = copy.lines().next().unwrap().rsplit('#').next().unwrap().trim_end_matches(" {").trim();
    let attrs = ir.lines().find(|l| l.starts_with(&format!("attributes #{group} "))).expect("its attributes");
    for a in ["cold", "noinline"] {
        assert!(attrs.contains(a), "{attrs}");
    }
}

#[test]
fn unoptimized_checks_share_one_failure_block_per_function_and_kind() {
    // -g0: every bounds check of a function branches to one block, every nil check to
    // another, each site passing its values (index, length, line and column) through phis;
    // the pointer parameter, never assigned, is nil-checked once (the check in the entry
    // block covers the later blocks; its block, reached from one site, calls with that
    // site's values as they are), and the slice parameter's pointer and length are loaded
    // once.
    let dir = Scratch::new("cg-shared-fail");
    let program = r#"
struct P { a: i64, b: i64 }
fn f(s: []i64, p: *P, i: u64, j: u64) : i64 {
    var x: i64 = s[i] + p->a;
    if x > 3 {
        x += s[j] * p->b;
    }
    return x + s[i + j] + p->a;
}
fn main() : i32 { var s: []i64 = make(@i64, 4); var q: P = P { a: 1, b: 2 }; return f(s, &q, 1, 2) as i32; }
"#;
    let ir = ir_with(&dir, program, &["-g0"]);
    let f = ir.split("define internal i64 @f(").nth(1).and_then(|f| f.split("\n}\n").next()).expect("f is defined");
    let f = format!("define internal i64 @f({f}\n}}");
    assert_eq!(f.matches("call void @__truk_bounds_fail.f0(").count(), 1, "{f}");
    assert_eq!(f.matches("call void @__truk_nil_fail.f0(").count(), 1, "{f}");
    insta::assert_snapshot!(f);
    // With line tables each site keeps its call, so that a debugger names the line that
    // failed (from the call's return address).
    let g = ir_with(&dir, program, &["-g"]);
    let f = g.split("define internal i64 @f(").nth(1).and_then(|f| f.split("\n}\n").next()).expect("f is defined");
    assert_eq!(f.matches("call void @__truk_bounds_fail.f0(").count(), 3, "{f}");
    assert_eq!(f.matches("call void @__truk_nil_fail.f0(").count(), 1, "{f}");
}
