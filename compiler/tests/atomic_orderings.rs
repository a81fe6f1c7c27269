//! `atomic_*` with an `Ordering`: the instructions LLVM picks for them on x86_64 and
//! aarch64, read from `truk build --emit asm` (debug builds, which keep every function).

use std::process::Command;

const SRC: &str = "var ready: u32;\nvar data: u64;\n\
fn store_release() : void { atomic_store(&ready, 1, Ordering.RELEASE); }\n\
fn store_relaxed() : void { atomic_store(&ready, 1, Ordering.RELAXED); }\n\
fn store_seq_cst() : void { atomic_store(&ready, 1); }\n\
fn load_acquire() : u32 { return atomic_load(&ready, Ordering.ACQUIRE); }\n\
fn load_relaxed() : u32 { return atomic_load(&ready, Ordering.RELAXED); }\n\
fn add_relaxed() : u64 { return atomic_add(&data, 1, Ordering.RELAXED); }\n\
fn main() : i32 { store_release(); store_relaxed(); store_seq_cst(); add_relaxed(); return (load_acquire() + load_relaxed()) as i32; }\n";

/// The instructions of `func` in the assembly of SRC for `target`.
fn body(target: &str, func: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("atomic_orderings").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("o.truk");
    std::fs::write(&src, SRC).unwrap();
    let out = dir.join("o.s");
    let o = Command::new(env!("CARGO_BIN_EXE_truk"))
        .args(["build", "--emit", "asm", "--target", target])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asm = std::fs::read_to_string(&out).unwrap();
    let start = asm.find(&format!("\n{func}:")).unwrap_or_else(|| panic!("{func} in {asm}"));
    let rest = &asm[start + func.len() + 2..];
    let end = rest.find("\n.Lfunc_end").unwrap_or(rest.len());
    rest[..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('.') && !l.starts_with('#') && !l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn orderings_pick_the_expected_instructions_on_x86_64() {
    let t = "x86_64-unknown-linux-gnu";
    // A release or relaxed store is a plain mov; only seq_cst needs the locked xchg.
    assert!(body(t, "store_release").contains("movl\t$1, ready(%rip)"), "{}", body(t, "store_release"));
    assert!(!body(t, "store_release").contains("xchg"));
    assert!(body(t, "store_relaxed").contains("movl\t$1, ready(%rip)"));
    assert!(body(t, "store_seq_cst").contains("xchgl"), "{}", body(t, "store_seq_cst"));
    assert!(body(t, "load_acquire").contains("movl\tready(%rip), %eax"), "{}", body(t, "load_acquire"));
    assert!(body(t, "add_relaxed").contains("lock\t\txaddq") || body(t, "add_relaxed").contains("lock xaddq"), "{}", body(t, "add_relaxed"));
}

#[test]
fn orderings_pick_the_expected_instructions_on_aarch64() {
    let t = "aarch64-unknown-linux-gnu";
    let rel = body(t, "store_release");
    assert!(rel.contains("stlr\tw") && !rel.contains("dmb"), "{rel}");
    let relaxed = body(t, "store_relaxed");
    assert!(relaxed.contains("str\tw") && !relaxed.contains("stlr"), "{relaxed}");
    assert!(body(t, "load_acquire").contains("ldar\tw"), "{}", body(t, "load_acquire"));
    let lr = body(t, "load_relaxed");
    assert!(lr.contains("ldr\tw") && !lr.contains("ldar"), "{lr}");
}
