//! Split codegen: the program's functions in parts (`codegen/parts.rs`), each emitted into its
//! own LLVM context and module and compiled to its own object, on as many threads as there
//! are cores; the objects are linked together. Each thread takes the next part when it is
//! done with one, and frees a part's module as soon as its object is written, so only one
//! part per thread is in memory at a time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::FileType;

use crate::codegen::emit::{self, DebugInfo, Entry, Part};
use crate::driver::build::{target_machine, unique, Loaded, Options, COMPILER_STACK};
use crate::fingerprint::NoteInfo;
use crate::mir;

/// A part per this many MIR statements and blocks (about 2,500 lines of the generated
/// benchmark program); smaller programs stay in one part, where threads and the declarations
/// each part repeats would cost more than they save.
const PART_WEIGHT: usize = 2_000;
/// At most this many parts: each one repeats the debug types it uses and the set-up of a
/// module. Below it, parts keep one size whatever the program's, and so does the memory
/// of the parts in flight (at 50k lines: 20 parts rather than 16, a peak of about 104 MB
/// rather than 106, the same CPU).
const MAX_PARTS: usize = 64;

/// How many parts a build of `prog` is emitted in: one for release builds, which would lose
/// inlining across parts, and for small programs; `TRUK_CODEGEN_PARTS=N` chooses.
pub fn part_count(prog: &mir::Program, opts: &Options) -> usize {
    if let Some(n) = std::env::var("TRUK_CODEGEN_PARTS").ok().and_then(|v| v.parse::<usize>().ok()) {
        return n.clamp(1, MAX_PARTS);
    }
    if opts.release {
        return 1;
    }
    let weight: usize = prog.bodies.iter().flatten().map(crate::codegen::parts::weight).sum();
    (weight / PART_WEIGHT).clamp(1, MAX_PARTS)
}

/// Threads for `parts` parts: one per core.
fn thread_count(parts: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    cores.min(parts).max(1)
}

/// What every part's module is built with.
pub struct Setup<'a> {
    pub prog: &'a mir::Program,
    pub loaded: &'a Loaded,
    pub opts: &'a Options,
    pub name: &'a str,
    pub entry: Entry,
    pub note: &'a NoteInfo,
}

/// Write the objects of `parts` parts, in part order; none is left behind on failure.
pub fn write_objects(setup: &Setup, parts: usize) -> Result<Vec<PathBuf>, String> {
    let parts = Part::split(setup.prog, parts);
    let (objs, cpu) = objects_on_threads(parts.len(), "truk-codegen", |p| write_part(setup, &parts[p]));
    if crate::driver::build::timings_wanted() {
        // What the threads used, whatever else the machine ran: on an idle one, the stage
        // takes about as long as the busiest thread.
        let busiest = cpu.iter().copied().fold(0.0, f64::max);
        let total: f64 = cpu.iter().sum();
        eprintln!("codegen: {} parts on {} threads: {total:.1} ms of CPU, {busiest:.1} ms on the busiest thread", parts.len(), cpu.len());
    }
    objs
}

/// `write(p)` for every part `p` below `parts`, on a thread per core (named `name`), each
/// taking the next part when done with one: the objects in part order (none is left behind
/// on failure), and the CPU time each thread used, in ms.
pub fn objects_on_threads(parts: usize, name: &str, write: impl Fn(usize) -> Result<PathBuf, String> + Sync) -> (Result<Vec<PathBuf>, String>, Vec<f64>) {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Result<PathBuf, String>>>> = Mutex::new(vec![None; parts]);
    let cpu_ms: Mutex<Vec<f64>> = Mutex::new(vec![]);
    let work = || {
        loop {
            let p = next.fetch_add(1, Ordering::Relaxed);
            if p >= parts {
                break;
            }
            let r = write(p);
            done.lock().unwrap_or_else(|e| e.into_inner())[p] = Some(r);
        }
        cpu_ms.lock().unwrap_or_else(|e| e.into_inner()).push(thread_cpu_ms());
    };
    std::thread::scope(|s| {
        let started = (0..thread_count(parts))
            .filter(|_| std::thread::Builder::new().name(name.into()).stack_size(COMPILER_STACK).spawn_scoped(s, work).is_ok())
            .count();
        if started == 0 {
            work();
        }
    });
    let cpu = cpu_ms.into_inner().unwrap_or_else(|e| e.into_inner());
    let results = done.into_inner().unwrap_or_else(|e| e.into_inner());
    let objs: Vec<PathBuf> = results.iter().filter_map(|r| r.as_ref()?.as_ref().ok().cloned()).collect();
    let failure = results.into_iter().find_map(|r| match r {
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(e),
        None => Some(format!("error: internal compiler error: a {name} thread stopped")),
    });
    match failure {
        Some(e) => {
            for o in &objs {
                let _ = std::fs::remove_file(o);
            }
            (Err(e), cpu)
        }
        None => (Ok(objs), cpu),
    }
}

/// The CPU time of the calling thread, in ms.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return 0.0;
    }
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

/// Emit part `part` into a context of its own and write its object (freed on return).
fn write_part(setup: &Setup, part: &Part) -> Result<PathBuf, String> {
    let opts = setup.opts;
    let tm = target_machine(&opts.target, opts.release)?;
    let td = tm.get_target_data();
    let ctx = Context::create();
    discard_value_names(&ctx);
    let debug_info = if opts.wants_debug_info() { DebugInfo::Lines { optimized: opts.release } } else { DebugInfo::None };
    let module = emit::emit(&ctx, setup.name, setup.prog, &setup.loaded.sources, &td, setup.entry, debug_info, !opts.release, part);
    if part.is_first() {
        crate::codegen::note::emit_fingerprint_note(&ctx, &module, setup.note, &opts.target);
    }
    finish_module(&ctx, &module, opts, &tm, &mut |_| {})?;
    let tmp = std::env::temp_dir().join(format!("truk-{}-{}-{}.o", std::process::id(), unique(), part.index));
    crate::driver::build::write_code(&tm, &module, FileType::Object, &tmp).map_err(|e| format!("error: {e}"))?;
    Ok(tmp)
}

/// Names of values only help a reader of the IR; keeping them costs time in LLVM.
pub fn discard_value_names(ctx: &Context) {
    // SAFETY: `ctx` is a live context; the call only sets a flag on it.
    unsafe { inkwell::llvm_sys::core::LLVMContextSetDiscardValueNames(ctx.raw(), 1) };
}

/// What a module needs before LLVM compiles it: the attributes of unoptimized builds, the
/// target, the verifier (debug builds of the compiler or `TRUK_VERIFY`), the O2 pipeline for
/// release builds.
/// `stage` is told when the IR is complete, verified and optimized.
pub fn finish_module<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    opts: &Options,
    tm: &inkwell::targets::TargetMachine,
    stage: &mut dyn FnMut(&str),
) -> Result<(), String> {
    prepare_module(ctx, module, opts, tm, stage)?;
    if opts.release {
        module
            .run_passes("default<O2>", tm, inkwell::passes::PassBuilderOptions::create())
            .map_err(|e| format!("error: LLVM optimization failed: {e}"))?;
        stage("optimize");
    }
    Ok(())
}

/// [`finish_module`] but for the optimization: what a module needs before any pass runs.
pub fn prepare_module<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    opts: &Options,
    tm: &inkwell::targets::TargetMachine,
    stage: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let attr = if !opts.release {
        // A call to a C library function LLVM can turn into instructions (`sqrt`) sends its
        // caller to the slow instruction selector; unoptimized builds lose nothing by this.
        "no-builtins"
    } else {
        // make(@T) is malloc and a zeroing the optimizer drops where fields are stored
        // next; where it stays, it must not become calloc, which in glibc skips the
        // thread cache (an allocation-heavy program ran about 30% more instructions).
        "no-builtin-calloc"
    };
    let attr = ctx.create_string_attribute(attr, "");
    for f in module.get_functions().filter(|f| f.count_basic_blocks() > 0) {
        f.add_attribute(inkwell::attributes::AttributeLoc::Function, attr);
    }
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    if opts.release {
        crate::driver::inline_rt::link_runtime_bitcode(module, &opts.target, tm);
    }
    stage("llvm-ir");
    // The verifier costs about a tenth of a debug build: debug builds of the compiler (the
    // test suites) always run it, release ones when TRUK_VERIFY is set.
    if cfg!(debug_assertions) || std::env::var_os("TRUK_VERIFY").is_some() {
        if let Err(e) = module.verify() {
            return Err(format!("error: internal compiler error: invalid LLVM IR generated\n{}\n", e.to_string()));
        }
        stage("verify");
    }
    Ok(())
}
