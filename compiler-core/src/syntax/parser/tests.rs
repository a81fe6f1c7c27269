use super::*;
use crate::diag::{render_all, SourceMap};
use std::path::{Path, PathBuf};

fn parse_ok(src: &str) -> Module {
    let (m, d) = parse_module(src, 0);
    assert!(d.is_empty(), "unexpected errors for {src:?}: {}", render(src, &d));
    m
}

fn render(src: &str, diags: &[Diagnostic]) -> String {
    let mut sm = SourceMap::default();
    sm.add(PathBuf::from("test.truk"), src.to_string());
    render_all(diags, &sm)
}

fn errors(src: &str) -> String {
    let (_, d) = parse_module(src, 0);
    render(src, &d)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "truk") {
            out.push(p);
        }
    }
}

/// Files of the corpus that must fail to parse, and why.
const SYNTAX_REJECTS: [&str; 4] = [
    "reject/char/test_char_empty.truk",            // ''
    "reject/char/test_char_invalid_escape.truk",   // '\q'
    "reject/char/test_char_multiple.truk",         // 'ab'
    "reject/char/test_char_unterminated.truk",     // 'a;
];

/// The statements of `fn main() { BODY }`.
fn body(src: &str) -> Vec<Stmt> {
    let m = parse_ok(&format!("fn main() : i32 {{\n{src}\n}}\n"));
    match &m.items[0] {
        Item::Fn(f) => f.body.clone().unwrap().stmts,
        _ => panic!("not a fn"),
    }
}

fn expr_of(src: &str) -> Expr {
    match body(&format!("return {src};")).remove(0).kind {
        StmtKind::Return(mut v) => v.remove(0),
        k => panic!("{k:?}"),
    }
}

/// A compact rendering of an expression, fully parenthesized.
fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => format!("{v:?}"),
        ExprKind::Str(b) => format!("{:?}", String::from_utf8_lossy(b)),
        ExprKind::Char(c) => format!("'{}'", *c as u32),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Nil => "nil".into(),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Binary(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
        ExprKind::Unary(op, x) => format!("({op:?} {})", show(x)),
        ExprKind::Call(f, a) => format!("{}({})", show(f), a.iter().map(show).collect::<Vec<_>>().join(", ")),
        ExprKind::Index(a, i) => format!("{}[{}]", show(a), show(i)),
        ExprKind::Field(a, f) => format!("{}.{}", show(a), f.name),
        ExprKind::Arrow(a, f) => format!("{}->{}", show(a), f.name),
        ExprKind::Cast(a, t) => format!("({} as {})", show(a), show_ty(t)),
        ExprKind::StructLit(n, f) => format!(
            "{}{{{}}}",
            n.name,
            f.iter().map(|(n, e)| format!("{}: {}", n.name, show(e))).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::ArrayLit(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(", ")),
        ExprKind::TypeArg(t) => format!("@{}", show_ty(t)),
        ExprKind::Lambda(f) => format!("fn/{}", f.params.len()),
    }
}

fn show_ty(t: &Type) -> String {
    match &t.kind {
        TypeKind::Named(n) => n.clone(),
        TypeKind::Ptr(t) => format!("*{}", show_ty(t)),
        TypeKind::Array(n, t) => format!("[{}]{}", show(n), show_ty(t)),
        TypeKind::Slice(t) => format!("[]{}", show_ty(t)),
        TypeKind::Map(k, v) => format!("map[{}, {}]", show_ty(k), show_ty(v)),
        TypeKind::Chan(t, n) => format!("chan[{}, {}]", show_ty(t), show(n)),
        TypeKind::Table(k, v, n) => format!("table[{}, {}, {}]", show_ty(k), show_ty(v), show(n)),
        TypeKind::Tuple(v) => format!("({})", v.iter().map(show_ty).collect::<Vec<_>>().join(", ")),
        TypeKind::Fn(p, r) => format!(
            "fn({}){}",
            p.iter().map(show_ty).collect::<Vec<_>>().join(", "),
            r.as_ref().map(|r| format!(" : {}", show_ty(r))).unwrap_or_default()
        ),
    }
}

fn var_ty(src: &str) -> String {
    match body(&format!("var v: {src};")).remove(0).kind {
        StmtKind::Var(d) => show_ty(d.ty.as_ref().unwrap()),
        k => panic!("{k:?}"),
    }
}

#[test]
fn precedence() {
    assert_eq!(show(&expr_of("1 + 2 * 3 - 4")), "((1 + (2 * 3)) - 4)");
    assert_eq!(show(&expr_of("a || b && c == d")), "(a || (b && (c == d)))");
    assert_eq!(show(&expr_of("a < b == c > d")), "((a < b) == (c > d))");
    assert_eq!(show(&expr_of("a | b ^ c & d << 1 + 2")), "(a | (b ^ (c & (d << (1 + 2)))))");
    assert_eq!(show(&expr_of("x & 1 == 0")), "((x & 1) == 0)");
    assert_eq!(show(&expr_of("a % b / c")), "((a % b) / c)");
    assert_eq!(show(&expr_of("-x as i32")), "((Neg x) as i32)");
    assert_eq!(show(&expr_of("*ptr as i32")), "((Deref ptr) as i32)");
    assert_eq!(show(&expr_of("a + b as i32")), "(a + (b as i32))");
    assert_eq!(show(&expr_of("b as u8 as i32")), "((b as u8) as i32)");
    assert_eq!(show(&expr_of("-a.b[1](2)->c")), "(Neg a.b[1](2)->c)");
    assert_eq!(show(&expr_of("!&*p")), "(Not (AddrOf (Deref p)))");
    assert_eq!(show(&expr_of("(a + b) * c")), "((a + b) * c)");
    assert_eq!(show(&expr_of("a - -b")), "(a - (Neg b))");
    assert_eq!(show(&expr_of("a >= b && c <= d && e != f")), "(((a >= b) && (c <= d)) && (e != f))");
    assert_eq!(show(&expr_of("a >> 2 << 3")), "((a >> 2) << 3)");
}

#[test]
fn literals() {
    assert_eq!(show(&expr_of("0x2A + 0b101 + 0o17 + 42")), "(((42 + 5) + 15) + 42)");
    assert_eq!(show(&expr_of("0xFFFFFFFFFFFFFFFF")), u64::MAX.to_string());
    assert_eq!(show(&expr_of("1.5 + 1.0e10 + 2.5e-3 + 2.0e+2")), "(((1.5 + 10000000000.0) + 0.0025) + 200.0)");
    assert_eq!(show(&expr_of(r#""a\n\t\\\"\0\r\x41""#)), format!("{:?}", "a\n\t\\\"\0\rA"));
    assert_eq!(show(&expr_of(r"'a'")), "'97'");
    for (lit, v) in [(r"'\n'", 10), (r"'\''", 39), (r"'\\'", 92), (r"'\0'", 0), (r"'\x41'", 65), ("'('", 40), ("'\"'", 34)] {
        assert_eq!(show(&expr_of(lit)), format!("'{v}'"), "{lit}");
    }
    assert_eq!(show(&expr_of("true && false || nil")), "((true && false) || nil)");
    assert_eq!(show(&expr_of("[1, 2, 3,]")), "[1, 2, 3]");
    assert_eq!(show(&expr_of("[]")), "[]");
    assert_eq!(show(&expr_of("Point{x: 1, y: p.y}")), "Point{x: 1, y: p.y}");
    assert_eq!(show(&expr_of("Point {\n x: 1,\n y: 2,\n}")), "Point{x: 1, y: 2}");
    assert_eq!(show(&expr_of("Empty{}")), "Empty{}");
    assert_eq!(show(&expr_of("make(@map[*u8, i32])")), "make(@map[*u8, i32])");
    assert_eq!(show(&expr_of("sizeof(@*i32) + sizeof(@[5]i32)")), "(sizeof(@*i32) + sizeof(@[5]i32))");
    assert_eq!(show(&expr_of("fn(a: i32, b: i32) : i32 { return a; }(1, 2)")), "fn/2(1, 2)");
    assert_eq!(show(&expr_of("Color.RED")), "Color.RED");
}

#[test]
fn literal_errors() {
    for (src, msg) in [
        ("return 18446744073709551616;", "too large"),
        ("return 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF;", "too large"),
        ("return '';", "empty character literal"),
        ("return '\\q';", "unknown escape sequence `\\q`"),
        ("return 'ab';", "more than one character"),
        ("return 'a;", "unterminated character literal"),
        ("return \"abc;", "unterminated string literal"),
        ("return \"\\x4\";", "two hexadecimal digits"),
        ("return 12abc;", "expected"),
    ] {
        let (_, d) = parse_module(&format!("fn main() : i32 {{\n{src}\n}}\n"), 0);
        assert!(!d.is_empty() && d[0].message.contains(msg), "{src}: {:?}", d);
        assert!(d[0].span.unwrap().lo >= 18, "{src}: error on line 2");
    }
}

#[test]
fn types() {
    assert_eq!(var_ty("[3][4]i32"), "[3][4]i32");
    assert_eq!(var_ty("[]*u8"), "[]*u8");
    assert_eq!(var_ty("**i8"), "**i8");
    assert_eq!(var_ty("map[*u8, map[i32, [2]i32]]"), "map[*u8, map[i32, [2]i32]]");
    assert_eq!(var_ty("(i32, *u8)"), "(i32, *u8)");
    assert_eq!(var_ty("(i32)"), "i32");
    assert_eq!(var_ty("fn(i32, i32) : i32"), "fn(i32, i32) : i32");
    assert_eq!(var_ty("fn() : void"), "fn()");
    assert_eq!(var_ty("fn(*Point)"), "fn(*Point)");
    assert_eq!(var_ty("(i32, fn(i32) : i32, i32)"), "(i32, fn(i32) : i32, i32)");
    assert_eq!(var_ty("[N]Entry"), "[N]Entry");
    assert_eq!(var_ty("Mutex"), "Mutex");
}

#[test]
fn statements() {
    let s = body(
        "var i: u64 = 0;\nconst K: i32 = 5;\nlet a, _, c = f();\nlet x = 1;\nlet y;\ni += 1; i -= 1; i *= 2; i /= 2; i %= 3; i &= 1; i |= 2; i ^= 3; i <<= 1; i >>= 1;\n\
         p->x = 3;\nf(1);\n{ var z: i32 = 1; }\nreturn a, b;",
    );
    assert!(matches!(&s[0].kind, StmtKind::Var(d) if d.kind == VarKind::Var && d.init.is_some()));
    assert!(matches!(&s[1].kind, StmtKind::Var(d) if d.kind == VarKind::Const));
    assert!(matches!(&s[2].kind, StmtKind::Let { names, init: Some(_) } if names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>() == ["a", "_", "c"]));
    assert!(matches!(&s[3].kind, StmtKind::Let { names, .. } if names.len() == 1));
    assert!(matches!(&s[4].kind, StmtKind::Let { init: None, .. }));
    let ops: Vec<_> = s[5..15]
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Assign { op: Some(op), .. } => op.symbol(),
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(ops, ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
    assert!(matches!(&s[15].kind, StmtKind::Assign { op: None, target: Expr { kind: ExprKind::Arrow(..), .. }, .. }));
    assert!(matches!(&s[16].kind, StmtKind::Expr(Expr { kind: ExprKind::Call(..), .. })));
    assert!(matches!(&s[17].kind, StmtKind::Block(b) if b.stmts.len() == 1));
    assert!(matches!(&s[18].kind, StmtKind::Return(v) if v.len() == 2));
    // `var x = e;` without a type inside a function is a `let`.
    assert!(matches!(&body("var f = fn(x: i32) : i32 { return x; };")[0].kind, StmtKind::Let { .. }));
}

#[test]
fn control_flow() {
    let s = body(
        "if a == b { x = 1; } else if c { x = 2; } else { x = 3; }\n\
         while i < n { i += 1; break; continue; }\n\
         for var i: u64 = 0; i < n; i += 1 { }\n\
         for ; ; { break; }\n\
         for i = 0; i < 10; i = i + 1 as u64 { }\n\
         defer x = x + 1;\n\
         defer { free(p); }\n\
         if x == y { }\n\
         while p == q {}",
    );
    match &s[0].kind {
        StmtKind::If { cond, els: Some(e), .. } => {
            assert_eq!(show(cond), "(a == b)");
            assert!(matches!(&e.kind, StmtKind::If { els: Some(_), .. }));
        }
        k => panic!("{k:?}"),
    }
    assert!(matches!(&s[1].kind, StmtKind::While { body, .. } if body.stmts.len() == 3));
    match &s[2].kind {
        StmtKind::For { init: Some(i), cond: Some(_), step: Some(st), .. } => {
            assert!(matches!(i.kind, StmtKind::Var(_)));
            assert!(matches!(st.kind, StmtKind::Assign { op: Some(BinOp::Add), .. }));
        }
        k => panic!("{k:?}"),
    }
    assert!(matches!(&s[3].kind, StmtKind::For { init: None, cond: None, step: None, .. }));
    assert!(matches!(&s[4].kind, StmtKind::For { init: Some(_), .. }));
    assert!(matches!(&s[5].kind, StmtKind::Defer(d) if matches!(d.kind, StmtKind::Assign { .. })));
    assert!(matches!(&s[6].kind, StmtKind::Defer(d) if matches!(d.kind, StmtKind::Block(_))));
    assert!(matches!(&s[7].kind, StmtKind::If { cond: Expr { kind: ExprKind::Binary(..), .. }, .. }));
    assert!(matches!(&s[8].kind, StmtKind::While { .. }));
}

#[test]
fn match_statement() {
    let s = body(
        "match x {\n  case 1 => return 0,\n  case Color.RED => { y = 1; },\n  case 'a' => y = 2,\n  case Point { x: 1, y: 2 } => break,\n  case 3 => f(x),\n  _ => return 1,\n}\nmatch y { case 1 => { } _ => continue }",
    );
    match &s[0].kind {
        StmtKind::Match { scrutinee, arms } => {
            assert_eq!(show(scrutinee), "x");
            assert_eq!(arms.len(), 6);
            assert!(matches!(arms[0].body.kind, StmtKind::Return(_)));
            assert!(matches!(arms[1].body.kind, StmtKind::Block(_)));
            assert!(matches!(arms[2].body.kind, StmtKind::Assign { .. }));
            assert_eq!(show(arms[3].pattern.as_ref().unwrap()), "Point{x: 1, y: 2}");
            assert!(matches!(arms[3].body.kind, StmtKind::Break));
            assert!(matches!(arms[4].body.kind, StmtKind::Expr(_)));
            assert!(arms[5].pattern.is_none());
        }
        k => panic!("{k:?}"),
    }
    assert!(matches!(&s[1].kind, StmtKind::Match { arms, .. } if arms.len() == 2));
}

#[test]
fn items() {
    let m = parse_ok(
        "cimport <stdio.h>;\ncimport \"local.h\";\nimport \"file.truk\";\nshard \"name\";\n\
         const X: i32 = 5;\nvar g: i32;\nshared var hits: u64;\nshared var epoch: i64 = 1;\n\
         extern fn printf(fmt: *i8, ...args) : i32;\nextern struct FILE;\nextern struct tm { tm_sec: i32, tm_min: i32 }\n\
         extern var errno: i32;\nextern enum Status : i32 { OK = 0, ERR = 1 }\n\
         enum State : i32 { A = 0, B, }\nstruct Point { x: i32, y: i32, }\n\
         fn sum(count: i32, ...nums) : i32 { return 0; }\nfn v() : void { }\nfn main(argc: i32, argv: **i8) : i32 { return 0; }\n",
    );
    let it = &m.items;
    assert!(matches!(&it[0], Item::CImport { header, system: true, .. } if header == "stdio.h"));
    assert!(matches!(&it[1], Item::CImport { header, system: false, .. } if header == "local.h"));
    assert!(matches!(&it[2], Item::Import { path, .. } if path == "file.truk"));
    assert!(matches!(&it[3], Item::Shard { name, .. } if name == "name"));
    assert!(matches!(&it[4], Item::Global(d) if d.kind == VarKind::Const));
    assert!(matches!(&it[5], Item::Global(d) if d.kind == VarKind::Var && d.init.is_none()));
    assert!(matches!(&it[6], Item::Global(d) if d.kind == VarKind::Shared && d.init.is_none()));
    assert!(matches!(&it[7], Item::Global(d) if d.kind == VarKind::Shared && d.init.is_some()));
    assert!(matches!(&it[8], Item::ExternFn(f) if f.variadic.as_ref().unwrap().name == "args" && f.body.is_none() && f.params.len() == 1));
    assert!(matches!(&it[9], Item::ExternStruct(s) if s.fields.is_none()));
    assert!(matches!(&it[10], Item::ExternStruct(s) if s.fields.as_ref().unwrap().len() == 2));
    assert!(matches!(&it[11], Item::ExternVar(_)));
    assert!(matches!(&it[12], Item::ExternEnum(e) if e.variants.len() == 2));
    assert!(matches!(&it[13], Item::Enum(e) if e.variants.len() == 2 && e.variants[1].value.is_none()));
    assert!(matches!(&it[14], Item::Struct(s) if s.fields.as_ref().unwrap().len() == 2));
    assert!(matches!(&it[15], Item::Fn(f) if f.variadic.is_some() && f.ret.is_some()));
    assert!(matches!(&it[16], Item::Fn(f) if f.ret.is_none()));
    assert!(matches!(&it[17], Item::Fn(f) if f.params.len() == 2 && f.name.name == "main"));
}

#[test]
fn spans() {
    let src = "fn main() : i32 {\n  return a + bb;\n}\n";
    let m = parse_ok(src);
    let Item::Fn(f) = &m.items[0] else { panic!() };
    assert_eq!((f.span.lo, f.span.hi), (0, src.len() as u32 - 1));
    assert_eq!(&src[f.name.span.lo as usize..f.name.span.hi as usize], "main");
    let st = &f.body.as_ref().unwrap().stmts[0];
    let StmtKind::Return(v) = &st.kind else { panic!() };
    assert_eq!(&src[v[0].span.lo as usize..v[0].span.hi as usize], "a + bb");
    let (m, _) = parse_module("fn f() {}\n", 7);
    let Item::Fn(f) = &m.items[0] else { panic!() };
    assert_eq!(f.span.file, 7);
}

#[test]
fn comments_and_reserved_words() {
    parse_ok("// a\n/* b\n c */ fn main() : i32 { /* x */ return 0; // y\n}\n");
    parse_ok("");
    parse_ok("   \n// only a comment");
    for bad in ["fn f32() {}", "fn main() { var i32: i32 = 0; }", "struct void { x: i32 }", "fn f() { var true: i32 = 1; }"] {
        assert!(!parse_module(bad, 0).1.is_empty(), "{bad}");
    }
}

#[test]
fn recovery_reports_several_errors() {
    let src = "fn a() {\n  x = ;\n}\nfn b() : i32 { return 0; }\nstruct S { x i32 }\nfn c() {\n  y(;\n}\n";
    let (m, d) = parse_module(src, 0);
    assert_eq!(d.len(), 3, "{}", render(src, &d));
    assert_eq!(m.items.len(), 1); // only `b` is whole
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // On the stack the compiler's stages get; the limit's end-to-end tests are in
    // compiler/tests/nesting.rs.
    crate::driver::build::on_compiler_stack(|| {
        for n in [MAX_DEPTH + 1, 100_000] {
            let src = format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(n), ")".repeat(n));
            assert!(errors(&src).contains("the limit is 1000"), "{n} parens");
            // (The outer braces are the function's body.)
            let src = format!("fn main() : i32 {}{}\n", "{".repeat(n + 1), "}".repeat(n + 1));
            assert!(errors(&src).contains("the limit is 1000"), "{n} blocks");
            let src = format!("fn main() : i32 {{ return {}1; }}\n", "-".repeat(n));
            assert!(errors(&src).contains("the limit is 1000"), "{n} prefix ops");
            let src = format!("var x: {}i32;\n", "*".repeat(n));
            assert!(errors(&src).contains("the limit is 1000"), "{n} pointer types");
            let src = format!("fn main() : i32 {{ return 1{}; }}\n", " + 1".repeat(n));
            assert!(errors(&src).contains("the limit is 1000"), "{n} operators");
        }
        // Deep but reasonable nesting is fine.
        let src = format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(900), ")".repeat(900));
        parse_ok(&src);
        let src = format!("fn main() : i32 {{ return 1{}; }}\n", " + 1".repeat(900));
        parse_ok(&src);
    });
}

#[test]
fn nesting_past_the_stack_is_cut_before_pest_recurses() {
    // pest has no stack probe (`stack.rs` cuts the text instead): on a thread of 1 MiB,
    // 2000 levels of any recursive construct would overflow it.
    let n = 2000;
    let deep = [
        ("parens", format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(n), ")".repeat(n))),
        ("blocks", format!("fn main() : i32 {}{}\n", "{".repeat(n + 1), "}".repeat(n + 1))),
        ("else if", format!("fn main() : i32 {{ var x: i32 = 0; if x == 0 {{ }}{} return 2; }}\n", " else if x == 1 { }".repeat(n))),
        ("pointer types", format!("var x: {}i32;\n", "*".repeat(n))),
        ("slice types", format!("var x: {}i32;\n", "[]".repeat(n))),
        ("array types", format!("var x: {}i32;\n", "[2]".repeat(n))),
        ("function results", format!("var x: {}i32;\n", "fn() : ".repeat(n))),
        ("casts to them", format!("fn main() : i32 {{ return 0 as {}i32; }}\n", "*".repeat(n))),
    ];
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            for (what, src) in &deep {
                let e = errors(src);
                assert!(e.contains("nested too deeply"), "{what}: {}", &e[..e.len().min(300)]);
            }
            // Shallow code still parses, and an item after a cut one is still read.
            parse_ok("fn main() : i32 { if a[0] { return (1 + 2) * 3; } else if b { while c { x = *p; } } return 0; }\n");
            let src = format!("var x: {}i32;\nfn main() : i32 {{ return y; }}\n", "*".repeat(n));
            let (m, d) = parse_module(&src, 0);
            assert_eq!((m.items.len(), d.len()), (1, 1), "{}", render(&src, &d));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn never_panics_on_truncated_or_mangled_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/run");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut inputs: Vec<String> = vec![
        "fn".into(), "fn main(".into(), "'".into(), "\"".into(), "/*".into(), "'\\".into(), "\"\\".into(),
        "fn f() { x = 'é'; }".into(), "fn f() { return \"é\\é\"; }".into(), "é".into(), "\u{0}".into(),
        "match".into(), "fn f() { match x { case".into(), "extern".into(), "shared var".into(),
    ];
    for f in files.iter().step_by(40) {
        if let Ok(s) = std::fs::read_to_string(f) {
            inputs.push(s);
        }
    }
    for src in &inputs {
        for cut in (0..=src.len()).filter(|&i| src.is_char_boundary(i)) {
            let _ = parse_module(&src[..cut], 0);
        }
    }
}

#[test]
#[ignore]
fn parse_speed_10k_lines() {
    let mut src = String::new();
    src.push_str("struct Point { x: i32, y: i32 }\n");
    let mut lines = 1;
    let mut n = 0;
    while lines < 10_000 {
        src.push_str(&format!(
            "fn func{n}(a: i32, b: *Point, m: map[*u8, i32]) : i32 {{\n  var s: i32 = 0;\n  for var i: i32 = 0; i < a; i += 1 {{\n    s = s + (i * 3 + b->x) as i32 - m[\"k\"];\n    if s > 100 && i != 7 {{ break; }}\n  }}\n  match s {{\n    case 1 => return 0,\n    _ => {{ s += 1; }},\n  }}\n  var p: Point = Point{{x: s, y: 0x1F}};\n  printf(\"%d\\n\", p.x);\n  return s;\n}}\n"
        ));
        lines += 15;
        n += 1;
    }
    let t = std::time::Instant::now();
    let (m, d) = parse_module(&src, 0);
    let dt = t.elapsed();
    assert!(d.is_empty(), "{}", render(&src, &d[..1]));
    println!(
        "parsed {lines} lines ({} bytes, {} items) in {:.1} ms: {:.0} lines/s",
        src.len(),
        m.items.len(),
        dt.as_secs_f64() * 1e3,
        lines as f64 / dt.as_secs_f64()
    );
}

#[test]
fn snapshot_missing_semicolon() {
    insta::assert_snapshot!(errors("fn main() : i32 {\n  var x: i32 = 5\n  return x;\n}\n"));
}

#[test]
fn snapshot_reserved_name_and_recovery() {
    insta::assert_snapshot!(errors(
        "fn f32() : i32 { return 0; }\nfn main() : i32 {\n  var x i32 = 5;\n}\nfn g() {\n  foo(1, 2;\n}\n"
    ));
}

#[test]
fn snapshot_char_literals() {
    insta::assert_snapshot!(errors(
        "fn main() : i32 {\n  var c: i8 = '';\n  var d: i8 = '\\q';\n  var e: i8 = 'ab';\n  var f: i8 = 'a;\n  return 0;\n}\n"
    ));
}

#[test]
fn snapshot_unclosed_block_and_bad_match_arm() {
    insta::assert_snapshot!(errors("fn main() : i32 {\n  match x {\n    case 1 => return 0\n    _ => return 1,\n  }\n}\nfn h() {\n  if x == 1 {\n    return;\n}\n"));
}

#[test]
fn snapshot_unterminated_string_and_comment() {
    insta::assert_snapshot!(errors("fn main() : i32 {\n  var s: *u8 = \"abc;\n  return 0;\n}\nfn k() { /* never closed\n"));
}

#[test]
#[ignore]
fn show_errors() {
    for src in [
        "fn main() : i32 {\n  var x: i32 = 5\n  return x;\n}\n",
        "fn main() : i32 {\n  var add = 3 +;\n  return 0;\n}\n",
        "fn main() : i32 {\n  var x i32 = 5;\n}\nfn g() {\n  return (1 + 2;\n}\nstruct S { x: i32 }\n",
        "fn f32() : i32 { return 0; }\n",
        "fn main() : i32 {\n  if x == 1 {\n    return 0;\n  \n}\n",
        "struct P { x: i32, y }\n",
        "fn main() : i32 {\n  match x {\n    case 1 => return 0\n    _ => return 1,\n  }\n}\n",
        "fn main() : i32 {\n  var s: *u8 = \"abc;\n  return 0;\n}\n",
        "fn main() : i32 {\n  return 99999999999999999999999;\n}\n",
        "fn main() : i32 {\n  var c: i8 = '';\n  var d: i8 = '\\q';\n  var e: i8 = 'ab';\n  var f: i8 = 'a;\n  return 0;\n}\n",
        "garbage here\nfn ok() {}\n",
        "fn main() : i32 { /* unterminated \n return 0; }\n",
        "fn main() : i32 {\n  x = = 3;\n}\n",
        "import foo;\n",
        "fn main() : i32 {\n  foo(1, 2;\n}\n",
        &format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(10000), ")".repeat(10000)),
        &format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(300), ")".repeat(300)),
    ] {
        println!("----\n{}\n{}", &src[..src.len().min(300)], errors(src).lines().next().unwrap_or(""));
    }
}

#[test]
fn conformance_corpus_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if !root.is_dir() {
        println!("conformance corpus not found at {}: skipped", root.display());
        return;
    }
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut failures = Vec::new();
    let mut ok = 0;
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let Ok(src) = std::fs::read_to_string(f) else { continue };
        let (_, diags) = parse_module(&src, 0);
        let expect_fail = SYNTAX_REJECTS.contains(&rel.as_str());
        if expect_fail && !diags.is_empty() {
            // The first diagnostic must be on the line the `.expect` file names.
            let expect = std::fs::read_to_string(f.with_extension("expect")).unwrap_or_default();
            let want: Option<usize> = expect
                .lines()
                .find_map(|l| l.trim_start().strip_prefix("--> "))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|n| n.parse().ok());
            let mut sm = SourceMap::default();
            sm.add(f.clone(), src.clone());
            let got = sm.file(0).line_col(diags[0].span.unwrap().lo).0;
            if want != Some(got) {
                failures.push(format!("{rel}: first error on line {got}, expected {want:?}"));
                continue;
            }
        }
        if diags.is_empty() == expect_fail {
            failures.push(format!("{rel}: {}", if expect_fail { "parsed but must be rejected".to_string() } else { render(&src, &diags) }));
        } else {
            ok += 1;
        }
    }
    println!("{ok} of {} corpus files behave as expected", files.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// A file parsed in two halves gives exactly the one-thread parse: items, spans and errors,
/// whether the middle line starts an item, sits in a block comment or in an item, or either
/// half has syntax errors.
#[test]
fn big_files_parse_in_halves_as_in_one() {
    let item = |i: usize| format!("fn g{i}(x: i64) : i64 {{\n    var s: i64 = x * {i};\n    return s + 1;\n}}\n\n");
    let items = |from: usize, n: usize| (from..from + n).map(item).collect::<String>();
    // (what goes in the middle, where in it the middle byte must fall, errors expected)
    let cases = [
        ("fn mid() : void {}\n".to_string(), 0, false),
        (format!("/*\n{}*/\n", items(5000, 200)), 20, false),
        ("fn h() : i64 {\nvar in_body: i64 = 2;\nreturn in_body;\n}\n".to_string(), 5, false),
        (format!("fn ok() : void {{}}\n{}fn broken( : void {{\n", items(6000, 20)), 0, true),
    ];
    for (k, (mid, at, errors)) in cases.iter().enumerate() {
        for broken_first in [false, true] {
            let mut src = if broken_first { "struct { x }\n".to_string() } else { String::new() };
            src += &items(0, 1500);
            let middle = src.len() + at;
            src += mid;
            src += &items(10_000, 1200);
            // Blanks at the end put the middle byte where the case needs it.
            src += &" ".repeat((2 * middle).saturating_sub(src.len()));
            assert!(src.len() / 2 == middle && src.len() >= SPLIT_MIN_BYTES, "case {k}: the test's own layout");
            let (split, split_diags) = parse_module(&src, 3);
            let ((one, one_diags), _) = parse_items(&src, 3, 0, None);
            let what = format!("case {k}, broken first half: {broken_first}");
            assert_eq!(format!("{:?}", split.items), format!("{one:?}"), "{what}");
            assert_eq!(format!("{split_diags:?}"), format!("{one_diags:?}"), "{what}");
            assert_eq!(split_diags.is_empty(), !errors && !broken_first, "{what}: {}", render(&src, &split_diags));
        }
    }
}
