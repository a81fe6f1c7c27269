//! Split optimization of big release builds: the whole module gets the interprocedural
//! simplification first (IPSCCP, which folds constant arguments and drops what they make
//! dead, and GlobalOpt), then it is cut into parts, each optimized (O2) and compiled to its
//! own object on a thread of its own, and the objects are linked together. Most of O2's time
//! (the inliner's pipeline, loop unrolling, GVN) is spent after the cut, on both cores.
//!
//! The parts are contiguous ranges of functions in module (source) order, of about equal
//! size, so callers mostly stay with their callees; a small function (a cheap inline) that a
//! part calls but another defines is copied into the caller's part as an internal function,
//! so no inlining of small helpers is lost. A function reached from another part (a call not
//! served by a copy, or its address taken) is a hidden external named `SYMBOL.t` (as in a
//! split debug build, `codegen/parts.rs`); the rest stay internal to their part and die once
//! inlined. Part 0 keeps the data (globals) and the fingerprint note; constants without
//! address identity (string literals) are copied into every part.

use std::path::PathBuf;

use inkwell::context::Context;
use inkwell::llvm_sys::core as llvm;
use inkwell::llvm_sys::prelude::LLVMValueRef;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{FileType, TargetMachine};
use inkwell::values::{AsValueRef, FunctionValue};
use inkwell::GlobalVisibility;

use crate::driver::build::{target_machine, unique, Options, Timings};
use crate::fingerprint::NoteInfo;
use crate::mir;

/// Release builds of at least this many MIR statements and blocks (about 7,500 lines of the
/// generated benchmark program) are optimized in parts; smaller ones stay whole and keep
/// every inlining (the benchmark programs of `bench/codegen` are far below it).
const SPLIT_WEIGHT: usize = 6_000;
/// A part per this much weight (2 to `MAX_PARTS`): every part repeats the set-up of a module
/// and loses the inlining across its edges. The count depends on the program alone, never on
/// the machine, so the output does too; the threads (one per core) take the next part when
/// done with one.
const PART_WEIGHT: usize = 10_000;
const MAX_PARTS: usize = 4;
/// Functions of at most this many instructions (after the early simplification) are copied
/// into the other parts that call them.
const COPY_SIZE: usize = 40;
/// The whole module's passes before the cut: the interprocedural start of O2, on SSA values
/// (mem2reg: SROA there cost about 10 instructions in 11 of this phase at 50k lines, and
/// each part runs all of O2 anyway).
const EARLY_PASSES: &str = "function(mem2reg),ipsccp,globalopt";

extern "C" {
    /// `compiler/llvm-shim/shim.cpp`.
    fn truk_delete_body(f: LLVMValueRef);
}

/// How many parts a release build of `prog` is optimized in (1: whole). Builds with debug
/// info stay whole (each part would repeat the compile unit's globals).
pub fn part_count(prog: &mir::Program, opts: &Options) -> usize {
    if !opts.release || opts.wants_debug_info() {
        return 1;
    }
    if let Some(n) = std::env::var("TRUK_OPT_PARTS").ok().and_then(|v| v.parse::<usize>().ok()) {
        return n.clamp(1, MAX_PARTS);
    }
    let weight: usize = prog.bodies.iter().flatten().map(crate::codegen::parts::weight).sum();
    if weight < SPLIT_WEIGHT {
        return 1;
    }
    (weight / PART_WEIGHT).clamp(2, MAX_PARTS)
}

/// Which part defines each function (in module order) and which parts hold a copy.
struct Plan {
    owner: Vec<usize>,
    /// `copies[p][f]`: part `p` has an internal copy of function `f`.
    copies: Vec<Vec<bool>>,
}

/// The defined functions of `module`, in order.
fn defined<'ctx>(module: &Module<'ctx>) -> Vec<FunctionValue<'ctx>> {
    module.get_functions().filter(|f| f.count_basic_blocks() > 0).collect()
}

fn instruction_count(f: FunctionValue) -> usize {
    f.get_basic_block_iter().map(|b| b.get_instructions().count()).sum()
}

/// The functions that call `f` directly (indexes into `funcs` by `index`), and whether `f`
/// has any other use (its address taken, a global's initializer).
fn callers(f: FunctionValue, index: &std::collections::HashMap<LLVMValueRef, usize>) -> (Vec<usize>, bool) {
    let (mut calls, mut escapes) = (vec![], false);
    let fv = f.as_value_ref();
    // SAFETY: walking the use list of a live function and reading its users.
    unsafe {
        let mut u = llvm::LLVMGetFirstUse(fv);
        while !u.is_null() {
            let user = llvm::LLVMGetUser(u);
            let is_callee = !llvm::LLVMIsACallInst(user).is_null() && llvm::LLVMGetOperandUse(user, (llvm::LLVMGetNumOperands(user) - 1) as u32) == u;
            match is_callee.then(|| index.get(&llvm::LLVMGetBasicBlockParent(llvm::LLVMGetInstructionParent(user)))).flatten() {
                Some(&c) => calls.push(c),
                None => escapes = true,
            }
            u = llvm::LLVMGetNextUse(u);
        }
    }
    (calls, escapes)
}

/// Cut `funcs` into `parts` ranges and decide the copies; give everything another part
/// reaches external linkage.
fn plan(funcs: &[FunctionValue], parts: usize) -> Plan {
    let index: std::collections::HashMap<LLVMValueRef, usize> = funcs.iter().enumerate().map(|(i, f)| (f.as_value_ref(), i)).collect();
    let sizes: Vec<usize> = funcs.iter().map(|&f| instruction_count(f)).collect();
    let total: usize = sizes.iter().sum();
    let (mut owner, mut acc, mut part) = (vec![0; funcs.len()], 0, 0);
    for (i, s) in sizes.iter().enumerate() {
        owner[i] = part;
        acc += s;
        // Close a part once it holds its share of the whole.
        if part + 1 < parts && acc * parts >= total * (part + 1) {
            part += 1;
        }
    }
    let uses: Vec<(Vec<usize>, bool)> = funcs.iter().map(|&f| callers(f, &index)).collect();
    let mut callees = vec![vec![]; funcs.len()];
    for (f, (calls, _)) in uses.iter().enumerate() {
        for &c in calls {
            callees[c].push(f);
        }
    }
    let copyable = |f: usize| sizes[f] <= COPY_SIZE && callees[f].is_empty() && !uses[f].1 && funcs[f].get_linkage() == Linkage::Internal;
    let mut copies = vec![vec![false; funcs.len()]; parts];
    let mut external = vec![false; funcs.len()];
    for (p, copy) in copies.iter_mut().enumerate() {
        // What part `p` holds, and what it calls: copied when small, else reached outside.
        let mut work: Vec<usize> = (0..funcs.len()).filter(|&f| owner[f] == p).collect();
        while let Some(f) = work.pop() {
            for &g in &callees[f] {
                if owner[g] == p || copy[g] {
                    continue;
                }
                if copyable(g) {
                    copy[g] = true;
                    work.push(g);
                } else {
                    external[g] = true;
                }
            }
        }
    }
    for (f, func) in funcs.iter().enumerate() {
        if (external[f] || uses[f].1) && func.get_linkage() == Linkage::Internal {
            hide(func.as_global_value());
        }
    }
    Plan { owner, copies }
}

/// Make internal `g` a hidden external named `SYMBOL.t`, a name no Truk or C symbol takes.
fn hide(g: inkwell::values::GlobalValue) {
    let name = format!("{}.t", g.get_name().to_string_lossy());
    g.set_name(&name);
    g.set_linkage(Linkage::External);
    g.set_visibility(GlobalVisibility::Hidden);
}

/// Internal data with an address of its own (variables, tables) lives in part 0, reached
/// from the others.
fn hide_data(module: &Module) {
    for g in module.get_globals() {
        let local = matches!(g.get_linkage(), Linkage::Internal | Linkage::Private);
        if local && !(g.is_constant() && g.has_unnamed_addr()) && !g.get_name().to_bytes().starts_with(b"llvm.") {
            hide(g);
        }
    }
}

/// Optimize `module` (complete but for the note, its target set) in `parts` parts and write
/// their objects, in part order; none is left behind on failure.
pub fn write_objects(module: &Module, opts: &Options, tm: &TargetMachine, parts: usize, note: &NoteInfo, time: &mut Timings) -> Result<Vec<PathBuf>, String> {
    module
        .run_passes(EARLY_PASSES, tm, inkwell::passes::PassBuilderOptions::create())
        .map_err(|e| format!("error: LLVM optimization failed: {e}"))?;
    let funcs = defined(module);
    let plan = plan(&funcs, parts);
    hide_data(module);
    let bitcode = module.write_bitcode_to_memory().as_slice().to_vec();
    time.stage("optimize");
    let (objs, cpu) = crate::driver::codegen::objects_on_threads(parts, "truk-opt", |p| write_part(&bitcode, &plan, p, opts, note));
    if crate::driver::build::timings_wanted() {
        let (total, busiest) = (cpu.iter().sum::<f64>(), cpu.iter().copied().fold(0.0, f64::max));
        let copies = plan.copies.iter().flatten().filter(|&&c| c).count();
        eprintln!("codegen: {parts} optimized parts ({copies} copied functions) on {} threads: {total:.1} ms of CPU, {busiest:.1} ms on the busiest thread", cpu.len());
    }
    objs
}

/// Part `p` of the module in `bitcode`, in a context of its own: optimized, its object written.
fn write_part(bitcode: &[u8], plan: &Plan, p: usize, opts: &Options, note: &NoteInfo) -> Result<PathBuf, String> {
    let tm = target_machine(&opts.target, true)?;
    let ctx = Context::create();
    crate::driver::codegen::discard_value_names(&ctx);
    let buf = MemoryBuffer::create_from_memory_range(bitcode, "part");
    let module = Module::parse_bitcode_from_buffer(&buf, &ctx).map_err(|e| format!("error: internal compiler error: {e}"))?;
    for (f, func) in defined(&module).into_iter().enumerate() {
        // Runtime code to inline (`inline_rt.rs`) stays in every part.
        if plan.owner[f] == p || func.get_linkage() == Linkage::AvailableExternally {
            continue;
        }
        if plan.copies[p][f] {
            func.set_linkage(Linkage::Internal);
        } else {
            // SAFETY: `func` is a live function of `module`; its body goes, its uses stay.
            unsafe { truk_delete_body(func.as_value_ref()) };
        }
    }
    if p == 0 {
        crate::codegen::note::emit_fingerprint_note(&ctx, &module, note, &opts.target);
    } else {
        for g in module.get_globals() {
            if !g.is_declaration() && !matches!(g.get_linkage(), Linkage::Internal | Linkage::Private | Linkage::Appending) {
                // SAFETY: a null initializer makes `g` a declaration (the C API allows it).
                unsafe { llvm::LLVMSetInitializer(g.as_value_ref(), std::ptr::null_mut()) };
            }
        }
    }
    if cfg!(debug_assertions) || std::env::var_os("TRUK_VERIFY").is_some() {
        module.verify().map_err(|e| format!("error: internal compiler error: invalid LLVM IR in part {p}\n{}\n", e.to_string()))?;
    }
    module
        .run_passes("default<O2>", &tm, inkwell::passes::PassBuilderOptions::create())
        .map_err(|e| format!("error: LLVM optimization failed: {e}"))?;
    let tmp = std::env::temp_dir().join(format!("truk-{}-{}-o{p}.o", std::process::id(), unique()));
    crate::driver::build::write_code(&tm, &module, FileType::Object, &tmp).map_err(|e| format!("error: {e}"))?;
    Ok(tmp)
}
