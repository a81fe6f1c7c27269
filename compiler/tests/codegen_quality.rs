//! Properties of the generated LLVM IR that decide speed, not behaviour: natural alignment
//! of 8-byte loads and stores, failure paths declared cold and noreturn, integer map keys
//! passed by value to the map's integer entry points.

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
    let src = dir.write("main.truk", PROGRAM);
    let ll = dir.0.join("main.ll");
    let b = truk().arg("build").args(["--emit", "llvm-ir"]).arg(&src).arg("-o").arg(&ll).output().unwrap();
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
    for f in ["@__truk_map_get(", "@__truk_map_upsert(", "@__truk_map_remove("] {
        assert!(!ir.contains(f), "{f} is called for an integer key");
    }
}
