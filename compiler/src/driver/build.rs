//! The build pipeline: load the import closure, parse, check, lower to MIR, emit LLVM IR, optimize,
//! write an object, link it with the runtime.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use inkwell::context::Context;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;

use crate::codegen::emit::{self, DebugInfo, Entry, Part};
use crate::diag::{render_all, Diagnostic, Severity, SourceMap};
use crate::driver::cshim::{self, CHeader, Header};
use crate::driver::{codegen, link, stdlib, target};
use crate::fingerprint::{build_fingerprint, layout_fingerprint, BuildInputs, NoteInfo};
use crate::hir;
use crate::syntax::{ast, parser};

pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";
/// Members a fleet's attach table holds, by default (`--fleet-capacity`).
pub const FLEET_CAPACITY: u32 = 1024;
/// The largest `--fleet-capacity`: the attach table stays a few megabytes at most.
pub const MAX_FLEET_CAPACITY: u32 = 65536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    Exe,
    Obj,
    Asm,
    LlvmIr,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub release: bool,
    pub target: String,
    pub include: Vec<PathBuf>,
    pub emit: Emit,
    pub out: Option<PathBuf>,
    /// Build the `test_*` runner instead of `main`.
    pub tests: bool,
    /// Members the fleet's attach table holds (1..=MAX_FLEET_CAPACITY).
    pub fleet_capacity: u32,
    /// DWARF line tables (`-g`, `-g0`); `None`: in debug builds only.
    pub debug_info: Option<bool>,
    /// Warnings fail the build (`--deny-warnings`).
    pub deny_warnings: bool,
}

impl Options {
    pub fn wants_debug_info(&self) -> bool {
        self.debug_info.unwrap_or(!self.release)
    }
}

impl Default for Options {
    fn default() -> Options {
        Options { release: false, target: host_target(), include: vec![], emit: Emit::Exe, out: None, tests: false, fleet_capacity: FLEET_CAPACITY, debug_info: None, deny_warnings: false }
    }
}

pub fn host_target() -> String {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu".into()
    } else {
        HOST_TARGET.into()
    }
}

/// The parsed import closure of an entry file.
pub struct Loaded {
    pub sources: SourceMap,
    pub modules: Vec<ast::Module>,
    /// Folder of the entry file: file keys in the fingerprint are relative to it.
    pub root: PathBuf,
    /// The C headers named by `cimport`, each once (local ones resolved).
    pub cimports: Vec<CHeader>,
}

/// Load `entry` and every file it imports (transitively, each once), parsing as we go.
pub fn load(entry: &Path, include: &[PathBuf]) -> Result<Loaded, (SourceMap, Vec<Diagnostic>)> {
    load_with(entry, include, &|_| None)
}

/// [`load`], taking a file's text from `overlay` when it has one (an editor's unsaved text).
pub fn load_with(entry: &Path, include: &[PathBuf], overlay: &dyn Fn(&Path) -> Option<String>) -> Result<Loaded, (SourceMap, Vec<Diagnostic>)> {
    let mut sources = SourceMap::default();
    let mut diags = vec![];
    let mut modules = vec![];
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut cimports: Vec<CHeader> = vec![];
    let root = entry_folder(entry);
    let mut queue: Vec<PathBuf> = vec![entry.to_path_buf()];
    while let Some(path) = queue.pop() {
        let canon = std::fs::canonicalize(&path).unwrap_or(path.clone());
        if !seen.insert(canon) {
            continue;
        }
        let (text, bad_byte) = match overlay(&path).map(|t| Ok((t, None))).unwrap_or_else(|| read_source(&path)) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::global(e));
                continue;
            }
        };
        let file = sources.add(path.clone(), text);
        if let Some((at, byte)) = bad_byte {
            let msg = format!("invalid UTF-8 (byte 0x{byte:02x}): source files must be UTF-8 text");
            diags.push(Diagnostic::error(crate::diag::Span::new(file, at, at + 1), msg));
            continue;
        }
        let (module, mut errs) = parser::parse_module(&sources.file(file).text, file);
        if !errs.is_empty() {
            // Where a delimiter opens that nothing closes: the parser's place may be far off.
            diags.extend(crate::syntax::delims::check(&sources.file(file).text, file));
        }
        diags.append(&mut errs);
        let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        for item in &module.items {
            match item {
                ast::Item::Import { path: rel, span } => match resolve_import(&dir, include, rel) {
                    Some(p) => queue.push(p),
                    None => diags.push(Diagnostic::error(*span, format!("cannot find imported file `{rel}`"))),
                },
                ast::Item::CImport { header, system: true, span } => add_header(&mut cimports, Header::System(header.clone()), *span),
                ast::Item::CImport { header, system: false, span } => match resolve_header(&dir, include, header) {
                    Some(p) => add_header(&mut cimports, Header::Local(p), *span),
                    None => diags.push(Diagnostic::error(*span, format!("cannot find C header `{header}`"))),
                },
                _ => {}
            }
        }
        modules.push(module);
    }
    if diags.is_empty() {
        Ok(Loaded { sources, modules, root, cimports })
    } else {
        Err((sources, diags))
    }
}

/// `cimport "x.h"`: beside the importing file, then in each `-I` folder; absolute, since the
/// shim that includes it is compiled in another folder.
pub(crate) fn resolve_header(dir: &Path, include: &[PathBuf], header: &str) -> Option<PathBuf> {
    let p = dir.join(header);
    let found = if p.is_file() { Some(p) } else { include.iter().map(|d| d.join(header)).find(|p| p.is_file()) };
    found.map(|p| std::fs::canonicalize(&p).unwrap_or(p))
}

pub(crate) fn add_header(cimports: &mut Vec<CHeader>, header: Header, span: crate::diag::Span) {
    if !cimports.iter().any(|c| c.header == header) {
        cimports.push(CHeader { header, span });
    }
}

/// The entry file's folder, absolute and without symlinks, however the entry is spelled: a
/// bare `app.truk` has an empty parent, which would leave absolute paths in the file keys.
pub(crate) fn entry_folder(entry: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(entry).or_else(|_| std::path::absolute(entry)).unwrap_or_else(|_| entry.to_path_buf());
    abs.parent().map(Path::to_path_buf).unwrap_or(abs)
}

/// The text of a source file; when it is not UTF-8, the text with the bad bytes replaced and
/// the offset and value of the first one.
pub(crate) fn read_source(path: &Path) -> Result<(String, Option<(usize, u8)>), String> {
    if let Some(text) = stdlib::source(path) {
        return Ok((text.to_string(), None));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, None)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            // The valid prefix is unchanged, so `at` is the bad byte's offset in the text too.
            Ok((String::from_utf8_lossy(e.as_bytes()).into_owned(), Some((at, byte))))
        }
    }
}

/// `import "x"`: relative to the importing file, then each `-I` folder (a folder means its
/// `lib.truk`), then the standard library.
pub(crate) fn resolve_import(dir: &Path, include: &[PathBuf], rel: &str) -> Option<PathBuf> {
    std::iter::once(dir.to_path_buf())
        .chain(include.iter().cloned())
        .find_map(|base| {
            let p = base.join(rel);
            if p.is_file() {
                Some(p)
            } else if p.is_dir() && p.join("lib.truk").is_file() {
                Some(p.join("lib.truk"))
            } else {
                None
            }
        })
        .or_else(|| stdlib::resolve(rel))
}

pub fn target_machine(triple: &str, release: bool) -> Result<TargetMachine, String> {
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

extern "C" {
    /// `compiler/llvm-shim/shim.cpp`.
    fn truk_tm_relax_all(tm: inkwell::llvm_sys::target_machine::LLVMTargetMachineRef);
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

/// Stack of the thread the stages run on. Every stage recurses over the trees; the parser's
/// nesting limit (`syntax::depth`) keeps them shallow enough: at the limit, every construct
/// builds within 4 MiB (debug build of truk), so this leaves a wide margin.
pub const COMPILER_STACK: usize = 256 << 20;

/// Run `f` on a thread with [`COMPILER_STACK`] bytes of stack (untouched pages cost nothing);
/// on the current thread if no such thread can be made.
pub fn on_compiler_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    // Taken by whichever runs it: the thread, or this one when the thread cannot start.
    let f = std::sync::Mutex::new(Some(f));
    let run = || f.lock().unwrap_or_else(|e| e.into_inner()).take().map(|f| f());
    std::thread::scope(|s| {
        match std::thread::Builder::new().name("truk".into()).stack_size(COMPILER_STACK).spawn_scoped(s, run) {
            Ok(h) => match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => run(),
        }
        .expect("the stages run once")
    })
}

fn build_with_note_here(entry: &Path, opts: &Options) -> Result<(PathBuf, NoteInfo), String> {
    let opts = &checked_options(opts)?;
    if let Some(done) = up_to_date(entry, opts) {
        return Ok(done);
    }
    let (out, note) = build_checked(entry, opts).map_err(error_line)?;
    if opts.emit == Emit::Exe {
        crate::driver::fresh::record(entry, opts, &out, &note.build_fp);
    }
    Ok((out, note))
}

/// `opts` with the canonical target triple (aliases of one target build the same
/// fingerprint), after the checks made before compiling anything: a missing toolchain is
/// one line, not a failed link.
pub fn checked_options(opts: &Options) -> Result<Options, String> {
    check_fleet_capacity(opts.fleet_capacity)?;
    let spec = target::parse(&opts.target).map_err(error_line)?;
    if opts.emit == Emit::Exe {
        if let Some(p) = spec.link_problem() {
            return Err(error_line(p));
        }
    }
    Ok(Options { target: spec.triple.to_string(), ..opts.clone() })
}

/// The output and its note when it is already what building `entry` with `opts` (from
/// [`checked_options`]) would produce (`driver::fresh`). Needs no LLVM: the light `truk`
/// calls it before handing a build to `truk-compiler`.
pub fn up_to_date(entry: &Path, opts: &Options) -> Option<(PathBuf, NoteInfo)> {
    let mut time = Timings::new();
    let done = crate::driver::fresh::up_to_date(entry, opts)?;
    time.stage("up-to-date");
    Some(done)
}

/// What `truk build` prints on stderr when it has written (or kept) `out`.
pub fn wrote_line(out: &Path, note: &NoteInfo) -> String {
    format!("wrote {} (fingerprint {})", out.display(), crate::fingerprint::hex(&note.build_fp))
}

/// Prefix `error: ` to a message that does not start with it (rendered diagnostics do:
/// errors, or warnings that `--deny-warnings` made fatal).
fn error_line(e: String) -> String {
    if e.starts_with("error") || e.starts_with("warning") {
        e
    } else {
        format!("error: {e}")
    }
}

static EXIT_AFTER_BUILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a process that exits after one build (`truk build`): the build leaves its memory to
/// the OS instead of freeing it.
pub fn exit_after_build() {
    EXIT_AFTER_BUILD.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `TRUK_TIMINGS=1`: each stage's wall time on stderr, to see where a build spends it, and
/// the process's CPU time in it: on a loaded machine wall time swells with the wait for a
/// core, CPU time much less, so per-line costs compared across sizes stay meaningful.
struct Timings {
    on: bool,
    last: std::time::Instant,
    last_cpu: f64,
}

impl Timings {
    fn new() -> Timings {
        Timings { on: timings_wanted(), last: std::time::Instant::now(), last_cpu: cpu_seconds() }
    }

    /// Report the time since the previous stage ended.
    fn stage(&mut self, name: &str) {
        if self.on {
            let (now, cpu) = (std::time::Instant::now(), cpu_seconds());
            let wall = (now - self.last).as_secs_f64() * 1e3;
            eprintln!("time: {name:<8} {wall:8.2} ms  (cpu {:.2} ms; {})", (cpu - self.last_cpu) * 1e3, memory());
            (self.last, self.last_cpu) = (now, cpu);
        }
    }
}

/// User and system CPU time so far of the whole process (every thread) and of the children
/// it waited for (the C compiler, the linker), in seconds.
fn cpu_seconds() -> f64 {
    let used = |who| {
        // SAFETY: getrusage writes only the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return 0.0;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        secs(ru.ru_utime) + secs(ru.ru_stime)
    };
    used(libc::RUSAGE_SELF) + used(libc::RUSAGE_CHILDREN)
}

/// Whether `TRUK_TIMINGS` asks for the stages' times.
pub(crate) fn timings_wanted() -> bool {
    std::env::var_os("TRUK_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
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

/// The process's resident memory now, split into the anonymous part (the heap: what the
/// build allocated) and the mapped files (mostly libLLVM's code), and its peak so far, in
/// MiB; empty where /proc is missing.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse::<u64>().ok());
    match (kb("VmRSS:"), kb("RssAnon:"), kb("RssFile:"), kb("VmHWM:")) {
        (Some(rss), Some(anon), Some(file), Some(hwm)) => format!("rss {} MB: heap {}, files {}; peak {} MB", rss >> 10, anon >> 10, file >> 10, hwm >> 10),
        _ => String::new(),
    }
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
        // Loops whose bounds checks one test before them proves get a copy without them.
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
    crate::codegen::note::emit_fingerprint_note(&ctx, &module, &note, &opts.target);
    codegen::finish_module(&ctx, &module, opts, &tm, &mut |stage| time.stage(stage))?;
    match opts.emit {
        Emit::LlvmIr => module.print_to_file(&out).map_err(|e| format!("error: cannot write {}: {e}", out.display()))?,
        Emit::Asm => tm.write_to_file(&module, FileType::Assembly, &out).map_err(|e| format!("error: cannot write {}: {e}", out.display()))?,
        Emit::Obj => tm.write_to_file(&module, FileType::Object, &out).map_err(|e| format!("error: cannot write {}: {e}", out.display()))?,
        Emit::Exe => {
            let tmp = std::env::temp_dir().join(format!("truk-{}-{}.o", std::process::id(), unique()));
            tm.write_to_file(&module, FileType::Object, &tmp).map_err(|e| format!("error: cannot write object: {e}"))?;
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

fn profile(opts: &Options) -> &'static str {
    if opts.release {
        "release"
    } else {
        "debug"
    }
}

/// The build fingerprint of the import closure `sources` (paths as loaded, texts) and the
/// `cimports` under `opts`; `root` is the entry file's folder. Also what `fresh` compares.
pub(crate) fn sources_fingerprint(root: &Path, sources: &[(&Path, &[u8])], cimports: &[CHeader], opts: &Options) -> [u8; 32] {
    let mut files: Vec<(String, &[u8])> = sources.iter().map(|(p, text)| (fingerprint_key(root, p), *text)).collect();
    let headers: Vec<(String, Vec<u8>)> = cshim::local_header_closure(cimports)
        .iter()
        .map(|h| (fingerprint_key(root, h), std::fs::read(h).unwrap_or_default()))
        .collect();
    files.extend(headers.iter().map(|(k, b)| (k.clone(), b.as_slice())));
    let mut flags = vec![format!("fleet-capacity={}", opts.fleet_capacity)];
    if opts.tests {
        flags.push("entry=tests".into());
    }
    // Only a choice other than the profile's default changes the binary, and the key.
    if opts.wants_debug_info() != !opts.release {
        flags.push(format!("debug-info={}", opts.wants_debug_info()));
    }
    let inputs = BuildInputs { compiler_version: COMPILER_VERSION, target: &opts.target, profile: profile(opts), flags, files };
    build_fingerprint(&inputs)
}

/// `--fleet-capacity` for library callers of `build` (the command line checks it too).
pub fn check_fleet_capacity(n: u32) -> Result<(), String> {
    if (1..=MAX_FLEET_CAPACITY).contains(&n) {
        Ok(())
    } else {
        Err(format!("error: --fleet-capacity must be between 1 and {MAX_FLEET_CAPACITY}, not {n}\n"))
    }
}

/// A file's key in the build fingerprint: its path relative to the entry file's folder,
/// '/'-separated, so the same sources in another folder give the same fingerprint.
fn fingerprint_key(root: &Path, path: &Path) -> String {
    if path.starts_with(stdlib::PREFIX) {
        return path.to_string_lossy().into_owned();
    }
    // `root` is canonical already (`entry_folder`).
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let rel = match path.strip_prefix(&root) {
        Ok(r) => r.to_path_buf(),
        Err(_) => {
            // Outside the entry's folder (an -I folder): walk up with `..` components.
            let common = root.ancestors().find(|a| path.starts_with(a)).map(|a| a.to_path_buf()).unwrap_or_default();
            let ups = root.strip_prefix(&common).map(|r| r.components().count()).unwrap_or(0);
            let mut p = PathBuf::new();
            for _ in 0..ups {
                p.push("..");
            }
            p.join(path.strip_prefix(&common).unwrap_or(&path))
        }
    };
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    t ^ N.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn default_output(entry: &Path, emit: Emit) -> PathBuf {
    let stem = entry.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "a".into());
    let mut p = PathBuf::from(stem);
    match emit {
        Emit::Exe => {}
        Emit::Obj => {
            p.set_extension("o");
        }
        Emit::Asm => {
            p.set_extension("s");
        }
        Emit::LlvmIr => {
            p.set_extension("ll");
        }
    }
    p
}
