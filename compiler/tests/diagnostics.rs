//! Snapshots of type-checking diagnostics: the message, the place and the snippet.

use truk_core::diag::{render_all, SourceMap};

fn check(src: &str) -> String {
    let mut sources = SourceMap::default();
    let file = sources.add("test.truk".into(), src.to_string());
    let (module, mut diags) = truk_core::syntax::parser::parse_module(&sources.file(file).text, file);
    let (_, mut more) = truk_core::hir::check::check(&[module]);
    diags.append(&mut more);
    render_all(&diags, &sources)
}

#[test]
fn string_to_int() {
    insta::assert_snapshot!(check("fn main() : i32 {\n    var x: i32 = \"hello\";\n    return 0;\n}\n"));
}

#[test]
fn wrong_argument_count_and_type() {
    insta::assert_snapshot!(check(
        "fn add(a: i32, b: i32) : i32 {\n    return a + b;\n}\nfn main() : i32 {\n    var x: i32 = add(1);\n    return add(5, \"hello\");\n}\n"
    ));
}

#[test]
fn undefined_name_and_dot_on_pointer() {
    insta::assert_snapshot!(check(
        "struct P { x: i32 }\nfn main() : i32 {\n    var p: *P = make(@P);\n    undeclared = 1;\n    return p.x;\n}\n"
    ));
}

#[test]
fn match_needs_one_wildcard() {
    insta::assert_snapshot!(check("fn main() : i32 {\n  var x: i32 = 1;\n  match x {\n    case 1 => return 1,\n  }\n  return 0;\n}\n"));
}

#[test]
fn arithmetic_on_pointer_and_missing_return() {
    insta::assert_snapshot!(check(
        "fn f(p: *i32) : i32 {\n    var y: i32 = 1 + p;\n}\nfn main() : i32 {\n    return 0;\n}\n"
    ));
}

#[test]
fn shared_var_holding_an_address_names_the_field() {
    insta::assert_snapshot!(check(
        "struct Node { id: u32, next: *Node }\nstruct Entry { key: u64, nodes: [2]Node }\nshared var table: [8]Entry;\nshared var names: []u8;\nshared var ok: (u64, bool);\nfn main() : i32 { return 0; }\n"
    ));
}

#[test]
fn shared_var_inside_a_function() {
    insta::assert_snapshot!(check("fn main() : i32 {\n    shared var n: u64;\n    return 0;\n}\n"));
}

#[test]
fn atomics_need_a_pointer_to_an_integer_or_bool() {
    insta::assert_snapshot!(check(
        "var f: f64;\nvar b: bool;\nvar n: u32;\nfn main() : i32 {\n    atomic_add(&f, 1);\n    atomic_sub(&b, true);\n    atomic_store(n, 1);\n    atomic_cas(&n, 1);\n    atomic_swap(&n, \"x\");\n    return 0;\n}\n"
    ));
}

#[test]
fn mutex_and_fleet_builtins_check_their_arguments() {
    insta::assert_snapshot!(check(
        "var x: i32;\nvar m: Mutex;\nvar w: u32;\nfn main() : i32 {\n    lock(&x);\n    unlock(m);\n    wait_on(&w, 0);\n    var n: u32 = fleet_size(1);\n    spawn(7);\n    return 0;\n}\n"
    ));
}

#[test]
fn supervision_builtins_check_their_arguments() {
    insta::assert_snapshot!(check(
        "fn main() : i32 {\n    let p, s = wait_any_child();\n    var q: i64 = wait_any_child(0);\n    spawn_linked([1, 2]);\n    fleet_wait_exit(\"x\");\n    var a: []*u8 = [\"w\"];\n    return 0;\n}\n"
    ));
}

#[test]
fn user_definitions_shadow_fleet_builtins() {
    // Builtins are predeclared, not reserved, as `len` and `make` are.
    let src = "fn lock(x: i32) : i32 { return x; }\nfn main() : i32 {\n    var spawn: i32 = 2;\n    return lock(spawn);\n}\n";
    assert_eq!(check(src), "");
}

#[test]
fn control_characters_in_source_are_escaped_and_the_caret_lines_up() {
    // ESC, NUL, a right-to-left override and a C1 control, inside and outside a string.
    let out = check("fn main() : i32 {\n\tvar s: *u8 = \"\u{1b}[2J\u{202e}\u{0}\";  s = \u{9b}1;\n    return 0;\n}\n");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n' && c != '\t') && !out.contains('\u{202e}'), "{out:?}");
    insta::assert_snapshot!(out);
}

#[test]
fn enum_values_that_do_not_fit_their_base_type() {
    insta::assert_snapshot!(check("enum A : u8 { X = 256 }\nenum B : u32 { Y = -1 }\nenum C : i16 { P = 32766, Q, R }\nenum D : i8 { LOW = -128, HIGH = 127 }\n"));
}

#[test]
fn channel_types_check_element_and_capacity() {
    insta::assert_snapshot!(check(
        "struct Node { id: u32, next: *Node }\nstruct Box { c: chan[[]u8, 2] }\nshared var q: chan[Node, 4];\nvar n: u64 = 3;\nfn main() : i32 {\n    var a: chan[u64, 0];\n    var b: chan[u64, n];\n    var m: chan[map[i32, i32], 1];\n    return 0;\n}\n"
    ));
}

#[test]
fn channel_builtins_check_their_arguments() {
    insta::assert_snapshot!(check(
        "struct Job { id: u32 }\nvar c: chan[Job, 4];\nvar x: u64;\nfn main() : i32 {\n    chan_send(c, Job { id: 1 }, 0);\n    chan_send(&c, 5, 0);\n    chan_send(&c, Job { id: 1 });\n    let ok, j = chan_recv(&x, 0);\n    chan_close(&c, 1);\n    var n: u32 = chan_len(&c);\n    chan_select(0);\n    chan_select(\"x\", &c, &x);\n    return 0;\n}\n"
    ));
}

#[test]
fn table_types_check_key_value_and_capacity() {
    insta::assert_snapshot!(check(
        "struct Node { id: u32, next: *Node }\nstruct Pos { x: f32, y: f32 }\nshared var a: table[u64, Node, 8];\nvar n: u64 = 3;\nfn main() : i32 {\n    var b: table[Pos, u8, 4];\n    var c: table[*u8, u8, 4];\n    var d: table[u64, u64, 0];\n    var e: table[u64, u64, n];\n    var f: table[u32, Mutex, 2];\n    var g: table[[4]u8, []u8, 2];\n    return 0;\n}\n"
    ));
}

#[test]
fn table_builtins_check_their_arguments() {
    insta::assert_snapshot!(check(
        "struct Entry { hits: u64 }\nvar t: table[u64, Entry, 16];\nvar x: u64;\nfn main() : i32 {\n    table_put(t, 1, Entry { hits: 1 });\n    table_put(&t, 1, 2);\n    table_put(&t, 1);\n    let found, e = table_get(&x, 1);\n    table_del(&t, \"k\");\n    var n: u32 = table_len(&t);\n    table_clear(&t, 1);\n    table_each(&t, 5, fn(k: u64, e: Entry, c: *u64) : bool { return true; });\n    table_each(&t, &x, fn(k: u64, e: *Entry, c: *u64) : bool { return true; });\n    return 0;\n}\n"
    ));
}

#[test]
fn atomic_orderings_are_checked() {
    insta::assert_snapshot!(check(
        "var n: u32;\nvar o: u8 = 2;\nfn main() : i32 {\n    atomic_load(&n, Ordering.RELEASE);\n    atomic_load(&n, Ordering.ACQ_REL);\n    atomic_store(&n, 1, Ordering.ACQUIRE);\n    atomic_add(&n, 1, o);\n    atomic_cas(&n, 1, 2, Ordering.FAST);\n    atomic_swap(&n, 1, Ordering.RELAXED, 4);\n    return 0;\n}\n"
    ));
}

#[test]
fn integer_literals_that_do_not_fit_their_type() {
    // Declarations, negative literals, call arguments, struct fields, array elements, returns
    // and comparisons; an explicit cast still wraps, and the extremes fit.
    insta::assert_snapshot!(check(
        "struct S { a: u8 }\nfn f(x: u8) : u8 { return x; }\nfn g() : i8 { return 128; }\nfn main() : i32 {\n    var d: u8 = 300;\n    var e: u32 = -1;\n    f(256);\n    var s: S = S { a: 1000 };\n    var arr: [2]u8 = [1, 999];\n    if d == 300 { return 1; }\n    var w: u8 = 300 as u8;\n    var lo: i8 = -128;\n    var hi: u64 = 18446744073709551615;\n    var min: i64 = -9223372036854775808;\n    var b: u8 = '\\xff';\n    return 0;\n}\n"
    ));
}

#[test]
fn narrowing_and_sign_changes_warn_with_a_cast_to_write() {
    insta::assert_snapshot!(check(
        "fn take(x: u32) : u32 { return x; }\nfn main() : i32 {\n    var a: i64 = 5;\n    var b: i64 = 6;\n    var c: i32 = a + b;\n    var n: i32 = -3;\n    take(n);\n    var wide: i64 = c;\n    var u: u16 = 7;\n    var ok: i32 = u;\n    var _keep: i64 = wide + (ok as i64);\n    return a as i32;\n}\n"
    ));
}

#[test]
fn unused_variables_warn_unless_named_with_an_underscore() {
    insta::assert_snapshot!(check(
        "fn f(unused_param: i32) : i32 { return 1; }\nfn main() : i32 {\n    var x: i32 = 1;\n    var _quiet: i32 = 2;\n    var assigned: i32 = 0;\n    assigned = 3;\n    let pid, status = wait_any_child(0);\n    let _ = fleet_size();\n    return status;\n}\n"
    ));
}

#[test]
fn an_ignored_lock_result_warns() {
    insta::assert_snapshot!(check(
        "var m: Mutex;\nfn main() : i32 {\n    lock(&m);\n    unlock(&m);\n    let _ = lock(&m);\n    unlock(&m);\n    if lock(&m) { unlock(&m); return 1; }\n    unlock(&m);\n    return 0;\n}\n"
    ));
}

#[test]
fn warnings_wait_until_the_errors_are_fixed() {
    let out = check("fn main() : i32 {\n    var unused: i32 = 1;\n    var bad: u8 = 256;\n    return 0;\n}\n");
    assert!(out.contains("error: integer literal `256`"), "{out}");
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn paint_colours_the_severity_the_gutter_and_the_carets() {
    let plain = check("fn main() : i32 {\n    var x: i32 = 1;\n    return 0;\n}\n");
    let painted = truk_core::diag::paint(&plain);
    assert!(painted.starts_with("\x1b[1;33mwarning\x1b[0m"), "{painted:?}");
    assert!(painted.contains("\x1b[1;33m^\x1b[0m"), "{painted:?}");
    let stripped = painted.replace("\x1b[0m", "").replace("\x1b[1m", "").replace("\x1b[1;33m", "").replace("\x1b[1;34m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn unknown_names_fields_functions_and_types_suggest_the_closest() {
    insta::assert_snapshot!(check(
        "struct Point { x: i32, total: i32 }\nenum Color : u8 { Red, Green }\nfn compute_total(p: *Point) : i32 { return p->x; }\nfn main() : i32 {\n    var count: i32 = 0;\n    var p: Point = Point { x: 1, totl: 2 };\n    var q: Pont;\n    var c: Color = Color.Gren;\n    cuont = 1;\n    var n: i32 = compute_totl(&p);\n    var m: i32 = p.totals;\n    var z: i32 = nothing_like_it;\n    var w: u23 = 0;\n    return count;\n}\n"
    ));
}

#[test]
fn argument_count_errors_point_at_the_declaration_too() {
    insta::assert_snapshot!(check(
        "extern fn puts(s: *u8) : i32;\nfn scale(v: i32, by: i32) : i32 { return v * by; }\nfn one(v: i32) : i32 { return v; }\nfn main() : i32 {\n    puts();\n    one(1, 2);\n    var f: fn(i32) : i32 = one;\n    f();\n    return scale(2);\n}\n"
    ));
}

/// As the driver reports a file that does not parse: unbalanced delimiters first.
fn parse_errors(src: &str) -> String {
    let mut sources = SourceMap::default();
    let file = sources.add("test.truk".into(), src.to_string());
    let (_, errs) = truk_core::syntax::parser::parse_module(&sources.file(file).text, file);
    assert!(!errs.is_empty(), "parses");
    let mut diags = truk_core::syntax::delims::check(&sources.file(file).text, file);
    diags.extend(errs);
    render_all(&diags, &sources)
}

#[test]
fn an_unclosed_brace_is_reported_where_it_opens() {
    insta::assert_snapshot!(parse_errors(
        "fn main() : i32 {\n    var x: i32 = 1;\n    if x == 1 {\n        x = 2;\n\n    return x;\n}\n\nfn other() : i32 {\n    return 0;\n}\n"
    ));
}

#[test]
fn an_unclosed_paren_or_bracket_and_a_stray_brace() {
    insta::assert_snapshot!(parse_errors(
        "fn f(a: [4]i32) : i32 {\n    return g(a[1, \"(\");\n}\n}\nfn g(x: i32) : i32 { return x; }\n"
    ));
}
