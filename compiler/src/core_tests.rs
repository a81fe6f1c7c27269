//! truk-core's checks that need LLVM: its MIR layouts against LLVM's data layouts, and its
//! note reader (`fpread`) on objects LLVM wrote.

use std::process::Command;

use crate::fpread::read_note;
use crate::hir::Ty;
use crate::mir::layout::{tests_support, Layouts};

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("truk-core-tests-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn assert_one_line(e: &str) {
    assert!(!e.is_empty() && !e.contains('\n'), "not one line: {e:?}");
}

#[test]
fn agrees_with_llvm_on_every_target() {
    use crate::codegen::emit::llvm_type_of;
    let p = tests_support::program();
    let ctx = inkwell::context::Context::create();
    for triple in crate::driver::target::TARGETS.iter().map(|t| t.triple) {
        let tm = crate::driver::build::target_machine(triple, false).unwrap();
        let td = tm.get_target_data();
        let l = Layouts::new(&p, triple);
        let mut tys: Vec<Ty> = (0..p.structs.len() as u32).map(Ty::Struct).collect();
        tys.push(Ty::Tuple(vec![Ty::Bool, tests_support::int(32), Ty::Struct(0), tests_support::int(16)]));
        tys.push(Ty::Array(5, Box::new(Ty::Struct(2))));
        tys.push(Ty::Mutex);
        tys.push(Ty::Chan(Box::new(Ty::Struct(1)), 5));
        tys.push(Ty::Chan(Box::new(tests_support::int(32)), 5));
        tys.push(Ty::Tuple(vec![Ty::Bool, Ty::Chan(Box::new(tests_support::int(64)), 2)]));
        tys.push(Ty::Table(Box::new(Ty::Struct(0)), Box::new(Ty::Struct(1)), 7));
        for t in &tys {
            let lt = llvm_type_of(&ctx, &p, t);
            assert_eq!(td.get_abi_size(&lt), l.size_of(t), "{triple}: size of {t:?}");
            assert_eq!(td.get_abi_alignment(&lt) as u64, l.align_of(t), "{triple}: align of {t:?}");
            let offsets = match t {
                Ty::Struct(id) => l.struct_layout(*id).unwrap().offsets.clone(),
                Ty::Tuple(ts) => l.tuple(ts).offsets,
                _ => continue,
            };
            let st = lt.into_struct_type();
            for (i, off) in offsets.iter().enumerate() {
                assert_eq!(td.offset_of_element(&st, i as u32), Some(*off), "{triple}: field {i} of {t:?}");
            }
        }
    }
}

/// A binary (with a Truk note) truncated or with bytes flipped: Ok or one-line Err, never
/// a panic.
#[test]
fn fuzz_damaged_binaries() {
    crate::codegen::note::tests_support::ensure_targets();
    let dir = tmpdir("fuzz");
    let mut samples = Vec::new();
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin"] {
        let obj = dir.join(format!("{triple}.o"));
        crate::codegen::note::tests_support::write_object_with_note(triple, &obj);
        samples.push(std::fs::read(&obj).unwrap());
        if triple.starts_with("x86_64") {
            let exe = dir.join("exe");
            let ok = Command::new("cc")
                .arg(&obj)
                .arg("-o")
                .arg(&exe)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                samples.push(std::fs::read(&exe).unwrap());
            }
        }
    }
    let victim = dir.join("victim");
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for sample in &samples {
        // Truncations at many lengths, including every length around the note.
        let mut lens: Vec<usize> = (0..sample.len())
            .step_by(std::cmp::max(1, sample.len() / 300))
            .collect();
        lens.extend((0..64).map(|_| (next() as usize) % sample.len()));
        for len in lens {
            std::fs::write(&victim, &sample[..len]).unwrap();
            if let Err(e) = read_note(&victim) {
                assert_one_line(&e);
            }
        }
        // Random byte flips, 1 to 8 at a time.
        for _ in 0..600 {
            let mut x = sample.clone();
            for _ in 0..(1 + next() % 8) {
                let i = (next() as usize) % x.len();
                x[i] ^= (next() as u8) | 1;
            }
            std::fs::write(&victim, &x).unwrap();
            if let Err(e) = read_note(&victim) {
                assert_one_line(&e);
            }
        }
        // Every byte of the note's descriptor region flipped in turn (finds the note by
        // its owner name).
        if let Some(pos) = sample.windows(8).position(|w| w == b"Truk\0\0\0\0") {
            for i in pos - 12..(pos + 8 + 140).min(sample.len()) {
                let mut x = sample.clone();
                x[i] ^= 0xff;
                std::fs::write(&victim, &x).unwrap();
                if let Err(e) = read_note(&victim) {
                    assert_one_line(&e);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
