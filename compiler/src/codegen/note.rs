//! Emits the fingerprint note (see `fingerprint.rs` and `runtime-c/truk_note.h`) into a module.

use crate::fingerprint::{
    note_record, NoteInfo, NOTE_SECTION_ELF, NOTE_SECTION_MACHO, NOTE_SEGMENT_MACHO,
};
use inkwell::context::Context;
use inkwell::llvm_sys::core::LLVMGetAggregateElement;
use inkwell::module::{Linkage, Module};
use inkwell::values::{AsValueRef, BasicValue, PointerValue};
use inkwell::AddressSpace;

/// Name of the global holding the note record.
pub const NOTE_GLOBAL: &str = "__truk_fingerprint_note";

/// Is `triple` a Mach-O target?
pub fn triple_is_macho(triple: &str) -> bool {
    let os = triple.split('-').nth(2).unwrap_or("");
    [
        "darwin", "macos", "ios", "tvos", "watchos", "xros", "visionos",
    ]
    .iter()
    .any(|p| os.starts_with(p))
}

/// Adds the complete note record as a constant internal global (align 4) in section
/// `.note.truk` (ELF) or `__TEXT,__truk_fp` (Mach-O), and lists it in `llvm.used` so that
/// neither GlobalDCE nor the linker's `--gc-sections` / `-dead_strip` drops it.
/// Call once per module.
pub fn emit_fingerprint_note<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    info: &NoteInfo,
    target_triple: &str,
) {
    assert!(
        module.get_global(NOTE_GLOBAL).is_none(),
        "emit_fingerprint_note called twice on one module"
    );
    let bytes = note_record(info, target_triple);
    let init = ctx.const_string(&bytes, false);
    let g = module.add_global(init.get_type(), None, NOTE_GLOBAL);
    g.set_initializer(&init);
    g.set_constant(true);
    g.set_linkage(Linkage::Internal);
    g.set_alignment(4);
    if triple_is_macho(target_triple) {
        g.set_section(Some(&format!("{NOTE_SEGMENT_MACHO},{NOTE_SECTION_MACHO}")));
    } else {
        g.set_section(Some(NOTE_SECTION_ELF));
    }
    add_to_llvm_used(ctx, module, g.as_pointer_value());
}

/// Appends `value` to the module's `llvm.used` (creating it, or replacing it by a longer one).
pub fn add_to_llvm_used<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    value: PointerValue<'ctx>,
) {
    let ptr_ty = ctx.ptr_type(AddressSpace::default());
    let mut elems: Vec<PointerValue<'ctx>> = Vec::new();
    if let Some(old) = module.get_global("llvm.used") {
        if let Some(init) = old.get_initializer() {
            if init.is_array_value() {
                let arr = init.into_array_value();
                let n = arr.get_type().len();
                for i in 0..n {
                    // SAFETY: `arr` is a constant array of `n` elements; LLVMGetAggregateElement
                    // returns its i-th element (a pointer constant in llvm.used) or null.
                    let e = unsafe { LLVMGetAggregateElement(arr.as_value_ref(), i) };
                    if !e.is_null() {
                        // SAFETY: a non-null element of llvm.used is a pointer-typed constant.
                        elems.push(unsafe { PointerValue::new(e) });
                    }
                }
            }
        }
        // SAFETY: llvm.used has no users besides the module; it is rebuilt below.
        unsafe { old.delete() };
    }
    if !elems
        .iter()
        .any(|e| e.as_value_ref() == value.as_value_ref())
    {
        elems.push(value);
    }
    let init = ptr_ty.const_array(&elems);
    let used = module.add_global(init.get_type(), None, "llvm.used");
    used.set_linkage(Linkage::Appending);
    used.set_section(Some("llvm.metadata"));
    used.set_initializer(&init.as_basic_value_enum());
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::fingerprint::{build_fingerprint, layout_fingerprint, BuildInputs};
    use inkwell::passes::PassBuilderOptions;
    use inkwell::targets::{FileType, InitializationConfig, Target};
    use std::path::Path;
    use std::sync::Once;

    pub fn ensure_targets() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            Target::initialize_x86(&InitializationConfig::default());
            Target::initialize_aarch64(&InitializationConfig::default());
        });
    }

    pub fn info_for(triple: &str) -> NoteInfo {
        let src: &[u8] = b"shared var hits: u64;\nfn main() -> i32 { return 0; }\n";
        let build_fp = build_fingerprint(&BuildInputs {
            compiler_version: "0.1.0",
            target: triple,
            profile: "release",
            flags: vec!["fleet-capacity=1024".into()],
            files: vec![("main.truk".into(), src)],
        });
        NoteInfo {
            build_fp,
            layout_fp: layout_fingerprint(&[], ""),
            target: triple.into(),
            profile: "release".into(),
            compiler_version: "0.1.0".into(),
            region_size: 4096,
            fleet_capacity: 1024,
        }
    }

    /// A minimal object (`main` returning 0 plus the note), unoptimized; returns its note.
    pub fn write_object_with_note(triple: &str, out: &Path) -> NoteInfo {
        let info = info_for(triple);
        object_with_note(triple, &info, out, false, false);
        info
    }

    /// Builds `main` returning 0 plus the note (after an existing `llvm.used` entry when
    /// `extra_used`), optionally through O2, and writes an object; returns the final IR.
    pub fn object_with_note(triple: &str, info: &NoteInfo, out: &Path, optimize: bool, extra_used: bool) -> String {
        let tm = crate::driver::build::target_machine(triple, optimize).unwrap();
        let ctx = Context::create();
        let module = ctx.create_module("t");
        module.set_triple(&tm.get_triple());
        module.set_data_layout(&tm.get_target_data().get_data_layout());
        let i32t = ctx.i32_type();
        let f = module.add_function("main", i32t.fn_type(&[], false), None);
        let b = ctx.create_builder();
        b.position_at_end(ctx.append_basic_block(f, "entry"));
        b.build_return(Some(&i32t.const_zero())).unwrap();
        if extra_used {
            // A pre-existing llvm.used entry must survive (extended, not duplicated).
            let g = module.add_global(i32t, None, "keep_me");
            g.set_initializer(&i32t.const_int(7, false));
            g.set_linkage(Linkage::Internal);
            add_to_llvm_used(&ctx, &module, g.as_pointer_value());
        }
        emit_fingerprint_note(&ctx, &module, info, triple);
        module.verify().map_err(|e| e.to_string()).unwrap();
        if optimize {
            module.run_passes("default<O2>", &tm, PassBuilderOptions::create()).unwrap();
            assert!(module.get_global(NOTE_GLOBAL).is_some(), "O2 removed the note");
        }
        tm.write_to_file(&module, FileType::Object, out).unwrap();
        module.print_to_string().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::info_for;
    use super::*;
    use crate::fpread::read_note;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("truk-note-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Builds `main` returning 0 plus the note, optimizes at O2, writes an object file.
    fn emit_object(triple: &str, info: &NoteInfo, out: &Path, extra_used: bool) -> String {
        super::tests_support::object_with_note(triple, info, out, true, extra_used)
    }

    fn link(cc: &str, args: &[&str], obj: &Path, exe: &Path) -> bool {
        let out = Command::new(cc)
            .args(args)
            .arg(obj)
            .arg("-o")
            .arg(exe)
            .output();
        match out {
            Ok(o) if o.status.success() => true,
            Ok(o) => panic!(
                "{cc} {args:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => {
                eprintln!("skipping {cc}: {e}");
                false
            }
        }
    }

    #[test]
    fn llvm_used_is_extended_not_duplicated() {
        let triple = "x86_64-unknown-linux-gnu";
        let dir = tmpdir("used");
        let ir = emit_object(triple, &info_for(triple), &dir.join("t.o"), true);
        let used: Vec<&str> = ir.lines().filter(|l| l.starts_with("@llvm.used")).collect();
        assert_eq!(used.len(), 1, "{ir}");
        assert!(
            used[0].contains("@keep_me") && used[0].contains(NOTE_GLOBAL),
            "{}",
            used[0]
        );
        assert!(used[0].contains("[2 x ptr]"), "{}", used[0]);
        assert!(ir.contains("section \".note.truk\""), "{ir}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn x86_64_linux_end_to_end() {
        let triple = "x86_64-unknown-linux-gnu";
        let info = info_for(triple);
        let dir = tmpdir("x86_64");
        let obj = dir.join("t.o");
        emit_object(triple, &info, &obj, false);
        assert_eq!(read_note(&obj).unwrap(), info, "object");

        let lld_dir = "-B/usr/lib/llvm-19/bin";
        let variants: &[(&str, &[&str])] = &[
            ("bfd", &["-Wl,--gc-sections"]),
            ("lld", &[lld_dir, "-fuse-ld=lld", "-Wl,--gc-sections"]),
            ("bfd-pie-strip", &["-pie", "-Wl,--gc-sections", "-s"]),
        ];
        for (name, args) in variants {
            let exe = dir.join(format!("t-{name}"));
            if !link("cc", args, &obj, &exe) {
                continue;
            }
            assert_eq!(read_note(&exe).unwrap(), info, "{name}");
            let st = Command::new(&exe).status().unwrap();
            assert!(st.success(), "{name}: exit {st}");
            // Section headers gone: the PT_NOTE segment still carries it.
            let bare = dir.join(format!("t-{name}-nosections"));
            let ok = Command::new("llvm-objcopy-19")
                .arg("--strip-sections")
                .arg(&exe)
                .arg(&bare)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                assert_eq!(
                    read_note(&bare).unwrap(),
                    info,
                    "{name} without section headers"
                );
            } else {
                eprintln!(
                    "skipping the section-less check: llvm-objcopy-19 --strip-sections failed"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn aarch64_linux_end_to_end() {
        let triple = "aarch64-unknown-linux-gnu";
        let info = info_for(triple);
        let dir = tmpdir("aarch64");
        let obj = dir.join("t.o");
        emit_object(triple, &info, &obj, false);
        assert_eq!(read_note(&obj).unwrap(), info, "object");
        let exe = dir.join("t");
        if link("aarch64-linux-gnu-gcc", &["-Wl,--gc-sections"], &obj, &exe) {
            assert_eq!(read_note(&exe).unwrap(), info, "aarch64 executable");
            let exe2 = dir.join("t-lld");
            if link(
                "aarch64-linux-gnu-gcc",
                &[
                    "-B/usr/lib/llvm-19/bin",
                    "-fuse-ld=lld",
                    "-Wl,--gc-sections",
                ],
                &obj,
                &exe2,
            ) {
                assert_eq!(read_note(&exe2).unwrap(), info, "aarch64 executable (lld)");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The C runtime's way: a constructor walks its own PT_NOTE segments with
    /// dl_iterate_phdr, finds the note through runtime-c/truk_note.h and prints what it read.
    #[test]
    fn c_runtime_reads_its_own_note() {
        let triple = "x86_64-unknown-linux-gnu";
        let dir = tmpdir("c-self");
        let obj = dir.join("t.o");
        let info = super::tests_support::write_object_with_note(triple, &obj);
        let c = dir.join("self.c");
        std::fs::write(
            &c,
            r#"#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include "truk_note.h"
static int found;
static int cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    if (info->dlpi_name && info->dlpi_name[0]) return 0; /* main program only */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        size_t align = ph->p_align > 4 ? 8 : 4;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof(*n);
            const unsigned char *desc = name + ((n->n_namesz + align - 1) & ~(align - 1));
            if (n->n_namesz == TRUK_NOTE_NAMESZ && n->n_type == TRUK_NOTE_TYPE &&
                memcmp(name, TRUK_NOTE_NAME, TRUK_NOTE_NAMESZ) == 0) {
                struct truk_note_fixed f;
                if (truk_note_read_fixed(desc, n->n_descsz, &f) != 0) return 0;
                for (int k = 0; k < TRUK_FP_SIZE; k++) printf("%02x", f.build_fp[k]);
                printf(" %u %llu\n", f.fleet_capacity, (unsigned long long)f.region_size);
                found = 1;
                return 1;
            }
            p = desc + ((n->n_descsz + align - 1) & ~(align - 1));
        }
    }
    return 0;
}
__attribute__((constructor)) static void check(void) {
    dl_iterate_phdr(cb, NULL);
    if (!found) { puts("no note"); exit(3); }
    fflush(stdout);
}
"#,
        )
        .unwrap();
        let exe = dir.join("self");
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime-c");
        let out = Command::new("cc")
            .args([
                "-std=c11",
                "-Wall",
                "-Werror",
                "-Wl,--gc-sections",
                "-I",
                inc,
            ])
            .arg(&c)
            .arg(&obj)
            .arg("-o")
            .arg(&exe)
            .output();
        let Ok(out) = out else {
            eprintln!("skipping: no cc");
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        assert!(run.status.success(), "{:?}", run);
        let expected = format!(
            "{} {} {}\n",
            crate::fingerprint::hex(&info.build_fp),
            info.fleet_capacity,
            info.region_size
        );
        assert_eq!(String::from_utf8_lossy(&run.stdout), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn macho_objects() {
        for triple in ["x86_64-apple-darwin", "aarch64-apple-darwin"] {
            let info = info_for(triple);
            let dir = tmpdir(triple);
            let obj = dir.join("t.o");
            let ir = emit_object(triple, &info, &obj, false);
            assert!(ir.contains("section \"__TEXT,__truk_fp\""), "{ir}");
            assert_eq!(read_note(&obj).unwrap(), info, "{triple}");
            // Link with -dead_strip (ld64.lld needs no SDK for a `main` that calls nothing):
            // the section must survive.
            let ld64 = Path::new("/usr/lib/llvm-19/bin/ld64.lld");
            if ld64.exists() {
                let arch = if triple.starts_with("x86_64") {
                    "x86_64"
                } else {
                    "arm64"
                };
                let exe = dir.join("t");
                let out = Command::new(ld64)
                    .args([
                        "-arch",
                        arch,
                        "-platform_version",
                        "macos",
                        "11.0",
                        "11.0",
                        "-dead_strip",
                        "-e",
                        "_main",
                        "-o",
                    ])
                    .arg(&exe)
                    .arg(&obj)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "ld64.lld: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(
                    read_note(&exe).unwrap(),
                    info,
                    "{triple} executable, -dead_strip"
                );
            } else {
                eprintln!("skipping the Mach-O link: no {}", ld64.display());
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
