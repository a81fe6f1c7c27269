//! The LLVM-free half of the build pipeline: the options, loading the import closure (parse
//! as we go), the build fingerprint, the no-change rebuild check, the stages' timings. The
//! `truk` crate's `driver::build` runs the rest (check, MIR, LLVM, link) and re-exports this.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, SourceMap};
use crate::driver::cshim::{self, CHeader, Header};
use crate::driver::{runtime, stdlib, target};
use crate::fingerprint::{build_fingerprint, BuildInputs, NoteInfo};
use crate::syntax::{ast, parser};

pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The compiler's version as the build fingerprint sees it: `COMPILER_VERSION` plus a hash of
/// the runtime's C sources and headers, which every binary links (and from which code is
/// inlined). Two compilers of one version whose runtimes differ build members of different
/// fleets, even where the region protocol number was not bumped.
pub fn fingerprint_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        for (name, text) in runtime::RUNTIME_HEADERS.iter().chain(runtime::RUNTIME_SOURCES) {
            h.update(&(name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(&(text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        format!("{COMPILER_VERSION}+runtime.{}", &h.finalize().to_hex()[..16])
    })
}
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
pub fn resolve_header(dir: &Path, include: &[PathBuf], header: &str) -> Option<PathBuf> {
    let p = dir.join(header);
    let found = if p.is_file() { Some(p) } else { include.iter().map(|d| d.join(header)).find(|p| p.is_file()) };
    found.map(|p| std::fs::canonicalize(&p).unwrap_or(p))
}

pub fn add_header(cimports: &mut Vec<CHeader>, header: Header, span: crate::diag::Span) {
    if !cimports.iter().any(|c| c.header == header) {
        cimports.push(CHeader { header, span });
    }
}

/// The entry file's folder, absolute and without symlinks, however the entry is spelled: a
/// bare `app.truk` has an empty parent, which would leave absolute paths in the file keys.
pub fn entry_folder(entry: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(entry).or_else(|_| std::path::absolute(entry)).unwrap_or_else(|_| entry.to_path_buf());
    abs.parent().map(Path::to_path_buf).unwrap_or(abs)
}

/// The text of a source file; when it is not UTF-8, the text with the bad bytes replaced and
/// the offset and value of the first one.
pub fn read_source(path: &Path) -> Result<(String, Option<(usize, u8)>), String> {
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
pub fn resolve_import(dir: &Path, include: &[PathBuf], rel: &str) -> Option<PathBuf> {
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
pub fn error_line(e: String) -> String {
    if e.starts_with("error") || e.starts_with("warning") {
        e
    } else {
        format!("error: {e}")
    }
}

/// `TRUK_TIMINGS=1`: each stage's wall time on stderr, to see where a build spends it, and
/// the process's CPU time in it: on a loaded machine wall time swells with the wait for a
/// core, CPU time much less, so per-line costs compared across sizes stay meaningful.
pub struct Timings {
    on: bool,
    last: std::time::Instant,
    last_cpu: f64,
}

impl Timings {
    pub fn new() -> Timings {
        Timings { on: timings_wanted(), last: std::time::Instant::now(), last_cpu: cpu_seconds() }
    }

    /// Report the time since the previous stage ended.
    pub fn stage(&mut self, name: &str) {
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
pub fn timings_wanted() -> bool {
    std::env::var_os("TRUK_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The process's resident memory now, split into the anonymous part (the heap: what the
/// build allocated) and the mapped files (mostly the compiler's code, LLVM's included), and
/// its peak so far, in MiB; empty where /proc is missing.
pub fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse::<u64>().ok());
    match (kb("VmRSS:"), kb("RssAnon:"), kb("RssFile:"), kb("VmHWM:")) {
        (Some(rss), Some(anon), Some(file), Some(hwm)) => format!("rss {} MB: heap {}, files {}; peak {} MB", rss >> 10, anon >> 10, file >> 10, hwm >> 10),
        _ => String::new(),
    }
}

pub fn profile(opts: &Options) -> &'static str {
    if opts.release {
        "release"
    } else {
        "debug"
    }
}

/// The build fingerprint of the import closure `sources` (paths as loaded, texts) and the
/// `cimports` under `opts`; `root` is the entry file's folder. Also what `fresh` compares.
pub fn sources_fingerprint(root: &Path, sources: &[(&Path, &[u8])], cimports: &[CHeader], opts: &Options) -> [u8; 32] {
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
    let inputs = BuildInputs { compiler_version: fingerprint_version(), target: &opts.target, profile: profile(opts), flags, files };
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

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    t ^ N.fetch_add(1, Ordering::Relaxed)
}

pub fn default_output(entry: &Path, emit: Emit) -> PathBuf {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_version_is_the_crate_version_and_the_runtimes_hash() {
        let v = fingerprint_version();
        let hash = v.strip_prefix(&format!("{COMPILER_VERSION}+runtime.")).expect(v);
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{v}");
        // Every runtime file on disk is in what is hashed (and embedded).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-c");
        let hashed: Vec<&str> = runtime::RUNTIME_HEADERS.iter().chain(runtime::RUNTIME_SOURCES).map(|(n, _)| *n).collect();
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".c") || name.ends_with(".h") {
                assert!(hashed.contains(&name.as_str()), "runtime-c/{name} is not in the runtime's hash");
            }
        }
    }
}
