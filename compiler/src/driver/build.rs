//! The build pipeline: load the import closure, parse, check, lower to MIR, emit LLVM IR, optimize,
//! write an object, link it with the runtime. The LLVM-free half (options, loading, the
//! fingerprint, the no-change check, timings) is `truk_core::driver::build`, re-exported here.

use std::path::{Path, PathBuf};

use inkwell::context::Context;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;

pub use truk_core::driver::build::*;

use crate::codegen::emit::{self, DebugInfo, Entry, Part};
use crate::diag::{render_all, Diagnostic, Severity};
use crate::driver::cshim;
use crate::driver::{codegen, link};
use crate::fingerprint::{layout_fingerprint, NoteInfo};
use crate::hir;

pub fn target_machine(triple: &str, release: bool) -> Result<TargetMachine, String> {
    llvm_options();
    Target::initialize_x86(&InitializationConfig::default());
    Target::initialize_aarch64(&InitializationConfig::default());
    let tt = TargetTriple::create(triple);
    let target = Target::from_triple(&tt).map_err(|e| format!("unsupported target `{triple}`: {e}"))?;
    let level = if release { OptimizationLevel::Aggressive } else { OptimizationLevel::None };
    let tm = target
        .create_target_machine(&tt, "generic", "", level, RelocMode::PIC, CodeModel::Default)
        .ok_or_else(|| format!("cannot create a code generator for `{triple}`"))?;
    if !release {
        // Long branches from the start: the assembler's layout of unoptimized code with line
        // tables then takes one pass (a sixth less codegen time at 10k lines, 4% more code).
        // SAFETY: `tm` is a live target machine; the call sets one of its options.
        unsafe { truk_tm_relax_all(tm.as_mut_ptr()) };
    }
    Ok(tm)
}

/// LLVM's own options, set once per process before any code is generated (they are global).
///
/// `-use-unknown-locations=Disable`: an instruction without a location at the top of a block
/// (a reload the register allocator puts after a check's branch) continues the line-table
/// row before it, rather than opening a row of line 0 that the next instruction closes. Such
/// rows were 28% of a debug build's line table, and with their closing rows more than half
/// (10k lines of `bench/compile`: 15,268 rows, 8,708 without).
fn llvm_options() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let args = [c"truk".as_ptr(), c"-use-unknown-locations=Disable".as_ptr()];
        // SAFETY: the arguments are NUL-terminated strings that outlive the call; it runs
        // once, before any thread of this process generates code.
        unsafe { inkwell::llvm_sys::support::LLVMParseCommandLineOptions(args.len() as i32, args.as_ptr(), c"".as_ptr()) };
    });
}

extern "C" {
    /// `compiler/llvm-shim/shim.cpp`.
    fn truk_tm_relax_all(tm: inkwell::llvm_sys::target_machine::LLVMTargetMachineRef);
    fn truk_emit_file(
        tm: inkwell::llvm_sys::target_machine::LLVMTargetMachineRef,
        module: inkwell::llvm_sys::prelude::LLVMModuleRef,
        path: *const std::ffi::c_char,
        assembly: i32,
        err: *mut *mut std::ffi::c_char,
    ) -> i32;
}

/// Write `module`'s machine code to `path` (as `TargetMachine::write_to_file`, but an
/// unoptimized build skips a pass with nothing to do: `truk_emit_file` in the shim).
pub fn write_code(tm: &TargetMachine, module: &inkwell::module::Module, file: FileType, path: &Path) -> Result<(), String> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| format!("cannot write {}: a NUL in the path", path.display()))?;
    let mut err = std::ptr::null_mut();
    // SAFETY: `tm` and `module` are live; `c_path` outlives the call; on failure `err` is a
    // message LLVM allocated, read once and freed here.
    unsafe {
        if truk_emit_file(tm.as_mut_ptr(), module.as_mut_ptr(), c_path.as_ptr(), (file == FileType::Assembly) as i32, &mut err) == 0 {
            return Ok(());
        }
        let msg = std::ffi::CStr::from_ptr(err).to_string_lossy().into_owned();
        inkwell::llvm_sys::core::LLVMDisposeMessage(err);
        Err(format!("cannot write {}: {msg}", path.display()))
    }
}

/// Compile `entry` per `opts`. On failure, the error is the rendered diagnostics.
pub fn build(entry: &Path, opts: &Options) -> Result<PathBuf, String> {
    build_with_note(entry, opts).map(|(out, _)| out)
}

/// [`build`], also returning the note written into the output (its fingerprints).
/// Errors that are not diagnostics are one line starting with `error:`.
pub fn build_with_note(entry: &Path, opts: &Options) -> Result<(PathBuf, NoteInfo), String> {
    on_compiler_stack(|| build_with_note_here(entry, opts))
}

fn build_with_note_here(entry: &Path, opts: &Options) -> Result<(PathBuf, NoteInfo), String> {
    let opts = &checked_options(opts)?;
    if !FRESH_CHECKED.load(std::sync::atomic::Ordering::Relaxed) {
        if let Some(done) = up_to_date(entry, opts) {
            return Ok(done);
        }
    }
    let (out, note) = build_checked(entry, opts).map_err(error_line)?;
    if opts.emit == Emit::Exe {
        crate::driver::fresh::record(entry, opts, &out, &note.build_fp);
    }
    Ok((out, note))
}

static FRESH_CHECKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For `truk-compiler` started by the light `truk`, which found the output out of date
/// (`fresh::CHECKED_ENV`): the build does not look again.
pub fn fresh_already_checked() {
    FRESH_CHECKED.store(true, std::sync::atomic::Ordering::Relaxed);
}

static EXIT_AFTER_BUILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a process that exits after one build (`truk build`): the build leaves its memory to
/// the OS instead of freeing it.
pub fn exit_after_build() {
    EXIT_AFTER_BUILD.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Free `x` on another thread: what a stage no longer needs goes back to the allocator (for
/// LLVM to reuse, which lowers the peak) while the build goes on. The handle, when there is
/// a thread, tells when it is done.
fn free_aside<T: Send + 'static>(x: T) -> Option<std::thread::JoinHandle<()>> {
    // Without a thread, the value is dropped here, with the closure.
    std::thread::Builder::new().name("truk-free".into()).spawn(move || drop(x)).ok()
}

/// Once the trees freed by `freeing` are gone, give the allocator's free pages back to the
/// OS. The stages ran on one thread and so in one malloc arena, and LLVM will run on other
/// threads, at least one of them in the other arena: the holes the syntax tree and the HIR
/// left would stay resident, unused (about 18 MB at 50k lines).
fn trim_heap(freeing: Option<std::thread::JoinHandle<()>>) {
    if let Some(h) = freeing {
        let _ = h.join();
    }
    // SAFETY: malloc_trim only returns free memory; it is safe to call at any time.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0)
    };
}

fn build_checked(entry: &Path, opts: &Options) -> Result<(PathBuf, NoteInfo), String> {
    let mut time = Timings::new();
    let mut loaded = load(entry, &opts.include).map_err(|(s, d)| render_all(&d, &s))?;
    time.stage("parse");
    let (prog, diags) = hir::check::check(&loaded.modules);
    time.stage("check");
    let errors = diags.iter().any(|d| d.severity == Severity::Error);
    if errors || (opts.deny_warnings && !diags.is_empty()) {
        let mut text = render_all(&diags, &loaded.sources);
        if !errors {
            text.push_str("error: warnings are denied (--deny-warnings)\n");
        }
        return Err(text);
    }
    // Warnings go to stderr as they are found; the build goes on.
    let freeing = free_aside(std::mem::take(&mut loaded.modules));
    if !diags.is_empty() {
        eprint!("{}", crate::diag::for_stderr(&render_all(&diags, &loaded.sources)));
    }
    if !opts.tests && prog.main.is_none() && opts.emit == Emit::Exe {
        // At the entry file's start: the error is the file's, and every diagnostic has a place.
        let d = Diagnostic::error(crate::diag::Span::new(0, 0, 0), "no `main` function: a program needs `fn main() : i32`");
        return Err(render_all(&[d], &loaded.sources));
    }
    let mut prog = crate::mir::lower(prog, &opts.target);
    let diags = crate::mir::limits::check(&prog, &opts.target);
    if !diags.is_empty() {
        return Err(render_all(&diags, &loaded.sources));
    }
    if opts.release {
        // Loops whose bounds checks one test before them proves get a copy without them (in
        // small functions: the test leads to the loop itself, else the function restarts).
        prog.bodies.iter_mut().flatten().for_each(crate::mir::bounds::version_loops);
    }
    trim_heap(freeing);
    time.stage("mir");
    let entry_kind = if opts.tests { Entry::Tests } else { Entry::Main };
    let name = entry.file_stem().and_then(|s| s.to_str()).unwrap_or("main");
    let out = opts.out.clone().unwrap_or_else(|| default_output(entry, opts.emit));
    let parts = if opts.emit == Emit::Exe { codegen::part_count(&prog, opts) } else { 1 };
    if parts > 1 {
        let note = note_info(&loaded, opts, &target_machine(&opts.target, opts.release)?.get_target_data(), &prog);
        let setup = codegen::Setup { prog: &prog, loaded: &loaded, opts, name, entry: entry_kind, note: &note };
        let objs = codegen::write_objects(&setup, parts)?;
        time.stage("codegen");
        link_objects(objs, &out, &prog, &loaded, opts, &mut time)?;
        if EXIT_AFTER_BUILD.load(std::sync::atomic::Ordering::Relaxed) {
            std::mem::forget((prog, loaded));
        }
        return Ok((out, note));
    }
    // Big release builds: optimized in parts after the whole module's interprocedural start.
    let opt_parts = if opts.emit == Emit::Exe { crate::driver::opt_split::part_count(&prog, opts) } else { 1 };
    let tm = target_machine(&opts.target, opts.release)?;
    let ctx = Context::create();
    if opts.emit != Emit::LlvmIr {
        codegen::discard_value_names(&ctx);
    }
    let td = tm.get_target_data();
    let debug_info = if opts.wants_debug_info() { DebugInfo::Lines { optimized: opts.release } } else { DebugInfo::None };
    let module = emit::emit(&ctx, name, &prog, &loaded.sources, &td, entry_kind, debug_info, !opts.release, &Part::whole(&prog));
    let _ = free_aside(std::mem::take(&mut prog.bodies));
    let note = note_info(&loaded, opts, &td, &prog);
    if opt_parts > 1 {
        codegen::prepare_module(&ctx, &module, opts, &tm, &mut |stage| time.stage(stage))?;
        let objs = crate::driver::opt_split::write_objects(&module, opts, &tm, opt_parts, &note, &mut time)?;
        time.stage("codegen");
        link_objects(objs, &out, &prog, &loaded, opts, &mut time)?;
        if EXIT_AFTER_BUILD.load(std::sync::atomic::Ordering::Relaxed) {
            std::mem::forget((module, prog, loaded));
            std::mem::forget(ctx);
        }
        return Ok((out, note));
    }
    crate::codegen::note::emit_fingerprint_note(&ctx, &module, &note, &opts.target);
    codegen::finish_module(&ctx, &module, opts, &tm, &mut |stage| time.stage(stage))?;
    match opts.emit {
        Emit::LlvmIr => module.print_to_file(&out).map_err(|e| format!("error: cannot write {}: {e}", out.display()))?,
        Emit::Asm => write_code(&tm, &module, FileType::Assembly, &out).map_err(|e| format!("error: {e}"))?,
        Emit::Obj => write_code(&tm, &module, FileType::Object, &out).map_err(|e| format!("error: {e}"))?,
        Emit::Exe => {
            let tmp = std::env::temp_dir().join(format!("truk-{}-{}.o", std::process::id(), unique()));
            write_code(&tm, &module, FileType::Object, &tmp).map_err(|e| format!("error: {e}"))?;
            time.stage("codegen");
            link_objects(vec![tmp], &out, &prog, &loaded, opts, &mut time)?;
        }
    }
    if opts.emit != Emit::Exe {
        time.stage("codegen");
    }
    if EXIT_AFTER_BUILD.load(std::sync::atomic::Ordering::Relaxed) {
        // Freeing the LLVM module and the compiler's trees node by node costs about a tenth of
        // a debug build; the process ends next and the OS takes the memory back at once.
        std::mem::forget((module, prog, loaded));
        std::mem::forget(ctx);
    }
    Ok((out, note))
}

/// Link the program's objects `objs` (removed after) with the runtime (and the C shim) into
/// `out`.
fn link_objects(mut objs: Vec<PathBuf>, out: &Path, prog: &crate::mir::Program, loaded: &Loaded, opts: &Options, time: &mut Timings) -> Result<(), String> {
    let ours = objs.clone();
    let remove = || ours.iter().for_each(|o| drop(std::fs::remove_file(o)));
    let mut runtime = match crate::driver::runtime::runtime_objects(&opts.target, opts.release) {
        Ok(r) => r,
        Err(e) => {
            remove();
            return Err(e);
        }
    };
    if !opts.wants_debug_info() {
        runtime = crate::driver::runtime::without_local_symbols(runtime);
    }
    if let Some(shim) = cshim::shim_source(&prog.hir, &loaded.cimports) {
        match cshim::shim_object(&shim, &loaded.cimports, &opts.target) {
            Ok(obj) => objs.push(obj),
            Err(e) => {
                remove();
                return Err(cshim::failure_message(e, &shim, &prog.hir, loaded));
            }
        }
    }
    // Last: an archive serves only the references of what comes before it.
    objs.append(&mut crate::driver::runtime::as_archive(runtime));
    let r = link::link(&objs, out, &opts.target, opts.release, opts.wants_debug_info());
    remove();
    r.map_err(|e| link::failure_message(e, &prog.hir, &loaded.sources))?;
    if opts.wants_debug_info() {
        crate::driver::link::unname_c_main(out)?;
    } else if opts.release {
        crate::driver::link::drop_imports_from_symtab(out);
    }
    time.stage("link");
    Ok(())
}

/// The note that goes into the binary: both fingerprints and what the runtime needs.
fn note_info(loaded: &Loaded, opts: &Options, td: &inkwell::targets::TargetData, prog: &crate::mir::Program) -> NoteInfo {
    let sources: Vec<(&Path, &[u8])> = loaded.sources.files.iter().map(|f| (f.path.as_path(), f.text.as_bytes())).collect();
    let data_layout = td.get_data_layout().as_str().to_string_lossy().into_owned();
    NoteInfo {
        build_fp: sources_fingerprint(&loaded.root, &sources, &loaded.cimports, opts),
        layout_fp: layout_fingerprint(&prog.shared.fingerprint_vars(), &data_layout),
        target: opts.target.clone(),
        profile: profile(opts).into(),
        compiler_version: COMPILER_VERSION.into(),
        region_size: prog.shared.size,
        fleet_capacity: opts.fleet_capacity,
    }
}

