//! The C runtime linked into every Truk binary: its sources are embedded in the compiler
//! and compiled once per (sources, flags, target, C compiler) into a cache folder, so a
//! second build does no C compilation at all.
//!
//! Cache folder: `$TRUK_CACHE_DIR`, else `$XDG_CACHE_HOME/truk`, else `$HOME/.cache/truk`,
//! else `truk-cache` under the temp dir. Objects go to `<cache>/runtime/` named by a blake3
//! hash of everything that decides their bytes; they are written to a private temp folder
//! and renamed into place, so concurrent builds never see a half-written object.
//! `$TRUK_CC` overrides the C compiler for the host's architecture (a command line, split on
//! whitespace).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The runtime header, shared by every runtime C file (and by tests that play the
/// generated code's role).
pub const RUNTIME_HEADER: &str = include_str!("../../../runtime-c/truk_rt.h");

/// Every header the runtime C files include, by file name (`truk_rt.h` first).
pub const RUNTIME_HEADERS: &[(&str, &str)] = &[
    ("truk_rt.h", RUNTIME_HEADER),
    ("truk_note.h", include_str!("../../../runtime-c/truk_note.h")),
    ("truk_fleet.h", include_str!("../../../runtime-c/truk_fleet.h")),
    ("chan_fast.h", include_str!("../../../runtime-c/chan_fast.h")),
];

/// The runtime C sources, by file name.
pub const RUNTIME_SOURCES: &[(&str, &str)] = &[
    ("start.c", include_str!("../../../runtime-c/start.c")),
    ("map.c", include_str!("../../../runtime-c/map.c")),
    ("testfw.c", include_str!("../../../runtime-c/testfw.c")),
    ("fleet.c", include_str!("../../../runtime-c/fleet.c")),
    ("supervise.c", include_str!("../../../runtime-c/supervise.c")),
    ("chan.c", include_str!("../../../runtime-c/chan.c")),
    ("chan_fast.c", include_str!("../../../runtime-c/chan_fast.c")),
    ("table.c", include_str!("../../../runtime-c/table.c")),
    ("std.c", include_str!("../../../runtime-c/std.c")),
];

/// Bump when the way objects are built changes in a way the key does not capture.
const CACHE_SCHEME: &str = "truk-runtime-cache-v2";

const BASE_FLAGS: &[&str] = &[
    "-std=c11",
    "-O2",
    "-fPIC",
    "-ffunction-sections",
    "-fdata-sections",
    "-g",
    "-Wall",
    "-Wextra",
];

/// Runtime files built for size (`-Os` instead of `-O2`): map.c is linked into every program
/// that uses a map (the operations on integer keys are emitted inline by the compiler; its
/// cold parts are marked for clang's `-Oz`, see `SMALL` there); start.c into every program, and
/// holds start-up, exit, panics and thin wrappers of `calloc`/`malloc`, nothing hot: at -Os
/// its code is 23% smaller (1,368 bytes against 1,766).
/// bench/codegen/maps: 628.9M instructions with map.c at -Os, 629.2M at -O2 (4 KiB larger).
const SIZE_SOURCES: &[&str] = &["map.c", "start.c"];

/// The flags for runtime file `name`: `flags`, with `-Os` for the files in [`SIZE_SOURCES`].
fn flags_for(name: &str, flags: &[String]) -> Vec<String> {
    let small = SIZE_SOURCES.contains(&name);
    flags.iter().map(|f| if small && f == "-O2" { "-Os".to_string() } else { f.clone() }).collect()
}

/// The architectures truk builds for, as the driver sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// Map a Linux target triple to an architecture (runtime-c is built for Linux only).
pub fn target_arch(target: &str) -> Result<Arch, String> {
    let t = super::target::parse(target)?;
    // Only macOS is refused here: asking `link_problem` of a cross target runs its C compiler.
    match t.os {
        super::target::Os::Darwin => Err(t.link_problem().unwrap_or_default()),
        _ => Ok(t.arch),
    }
}

/// The target triple of the machine the compiler runs on.
pub fn host_target() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-gnu",
        _ => "x86_64-unknown-linux-gnu",
    }
}

pub(crate) fn host_arch() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::X86_64),
        "aarch64" => Some(Arch::Aarch64),
        _ => None,
    }
}

/// A C compiler able to produce objects for one target.
#[derive(Clone, Debug)]
pub(crate) struct CCompiler {
    pub program: String,
    pub args: Vec<String>,
    /// First line of `--version`, part of the cache key.
    pub version: String,
}

fn probe(program: &str, args: &[&str]) -> Option<CCompiler> {
    Some(CCompiler {
        program: program.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        version: version_of(program)?,
    })
}

/// First line of `PROGRAM --version`, kept in `<cache>/toolchain/` under the program's
/// resolved path, size and mtime: running it cost every build about 15 ms.
pub(crate) fn version_of(program: &str) -> Option<String> {
    let Some(id) = super::tools::which(program).and_then(|p| super::tools::file_identity(&p)) else {
        return run_version(program);
    };
    toolchain_cached(&id, || run_version(program))
}

/// What `make` says about the toolchain, kept in `<cache>/toolchain/` under `key` (which must
/// name everything the answer depends on, such as programs' identities): computed once.
pub(crate) fn toolchain_cached(key: &str, make: impl FnOnce() -> Option<String>) -> Option<String> {
    // The temp dir's cache when the default one cannot be written: a link asks the C driver
    // three times for its command line (`ld.rs`), which only pays once.
    let dir = usable_cache_dir().join("toolchain");
    let file = dir.join(&blake3::hash(key.as_bytes()).to_hex().as_str()[..32]);
    if let Ok(v) = std::fs::read_to_string(&file) {
        return Some(v);
    }
    let v = make()?;
    // Written aside and renamed: a concurrent build reads all of it or nothing.
    let tmp = dir.join(format!("tmp-{}-{}", std::process::id(), super::build::unique()));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&tmp, &v).is_ok() && std::fs::rename(&tmp, &file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Some(v)
}

fn run_version(program: &str) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    Some(version)
}

fn find_c_compiler(arch: Arch) -> Result<CCompiler, String> {
    let native = host_arch() == Some(arch);
    // A host compiler in TRUK_CC would build a runtime that cannot link for another target.
    if let Some(cc) = std::env::var("TRUK_CC").ok().filter(|_| native) {
        let mut words = cc.split_whitespace();
        if let Some(program) = words.next() {
            let args: Vec<&str> = words.collect();
            return probe(program, &args)
                .ok_or_else(|| format!("the C compiler in TRUK_CC (`{cc}`) does not run"));
        }
    }
    let candidates: &[(&str, &[&str])] = match arch {
        Arch::X86_64 => &[
            ("clang-19", &["--target=x86_64-linux-gnu"]),
            ("cc", &[]),
            ("gcc", &[]),
        ],
        Arch::Aarch64 => &[
            ("clang-19", &["--target=aarch64-linux-gnu"]),
            ("aarch64-linux-gnu-gcc", &[]),
            ("cc", &[]),
        ],
    };
    for (program, args) in candidates {
        // A plain `cc` only targets the host.
        if args.is_empty() && !program.contains('-') && !native {
            continue;
        }
        if let Some(c) = probe(program, args) {
            return Ok(c);
        }
    }
    Err(format!(
        "no C compiler found for {arch:?} (tried {}); install clang-19 (ci/setup does) or set TRUK_CC",
        candidates.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    ))
}

/// The C compiler for `target`, probed once per process.
pub(crate) fn c_compiler(target: &str) -> Result<CCompiler, String> {
    static CACHE: OnceLock<Mutex<HashMap<Arch, Result<CCompiler, String>>>> = OnceLock::new();
    let arch = target_arch(target)?;
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(arch)
        .or_insert_with(|| find_c_compiler(arch))
        .clone()
}

/// The cache folder (see the module docs); not created here.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("TRUK_CACHE_DIR") {
        return d;
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return d.join("truk");
    }
    if let Some(d) = env("HOME") {
        return d.join(".cache").join("truk");
    }
    std::env::temp_dir().join("truk-cache")
}

/// Compile the runtime for `target` (cached) and return its object files.
pub fn runtime_objects(target: &str, release: bool) -> Result<Vec<PathBuf>, String> {
    runtime_objects_in(&usable_cache_dir(), target, release)
}

/// [`cache_dir`], or when the default one cannot be written (read-only home, sandbox) the
/// temp dir's; an explicit TRUK_CACHE_DIR is used as given.
fn usable_cache_dir() -> PathBuf {
    let dir = cache_dir();
    if std::env::var_os("TRUK_CACHE_DIR").is_none() && std::fs::create_dir_all(dir.join("runtime")).is_err() {
        return std::env::temp_dir().join("truk-cache");
    }
    dir
}

/// [`runtime_objects`] with an explicit cache folder.
pub fn runtime_objects_in(
    cache: &Path,
    target: &str,
    release: bool,
) -> Result<Vec<PathBuf>, String> {
    let arch = target_arch(target)?;
    let cc = c_compiler(target)?;
    let mut flags: Vec<String> = BASE_FLAGS.iter().map(|s| s.to_string()).collect();
    if release {
        flags.push("-DNDEBUG".into());
    }
    let dir = cache.join("runtime");
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the cache folder {}: {e}", dir.display()))?;

    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for (name, src) in RUNTIME_SOURCES {
        let hex = cache_key(arch, target, &cc, name, src, &flags_for(name, &flags));
        let stem = name.trim_end_matches(".c");
        let obj = dir.join(format!("{stem}-{}.o", &hex[..32]));
        if !obj.is_file() {
            missing.push((*name, *src, obj.clone()));
        }
        objects.push(obj);
    }
    if !missing.is_empty() {
        compile_into(&dir, &cc, &flags, "o", &missing)?;
    }
    Ok(objects)
}

/// The blake3 hash (hex) of everything that decides the bytes of runtime file `name`
/// compiled with `flags`.
fn cache_key(arch: Arch, target: &str, cc: &CCompiler, name: &str, src: &str, flags: &[String]) -> String {
    let mut h = blake3::Hasher::new();
    for part in [CACHE_SCHEME, &format!("{arch:?}"), target, &cc.program, &cc.version, name] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    for a in cc.args.iter().chain(flags.iter()) {
        h.update(a.as_bytes());
        h.update(&[0]);
    }
    for text in RUNTIME_HEADERS.iter().map(|(_, t)| *t).chain([src]) {
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Runtime file `name` (one that release builds inline: `INLINED` in `compiler/src/driver/
/// inline_rt.rs`) as LLVM bitcode for `target`, compiled (cached) by the same C compiler and
/// flags as its object, without optimization passes (the program's optimizer runs them once the file's functions are inlined, constant
/// arguments and all) and without debug info. None when that compiler is not clang 19,
/// whose bitcode the compiler's LLVM 19 reads, or when it fails: the program then calls the
/// runtime's object as in debug builds.
pub fn runtime_bitcode(target: &str, name: &str) -> Option<PathBuf> {
    let (_, src) = RUNTIME_SOURCES.iter().find(|(n, _)| *n == name)?;
    let cc = c_compiler(target).ok()?;
    if !cc.version.contains("clang version 19.") {
        return None;
    }
    let arch = target_arch(target).ok()?;
    let mut flags: Vec<String> = BASE_FLAGS.iter().filter(|f| **f != "-g").map(|s| s.to_string()).collect();
    flags.extend(["-DNDEBUG", "-emit-llvm", "-Xclang", "-disable-llvm-passes"].map(String::from));
    let dir = usable_cache_dir().join("runtime");
    std::fs::create_dir_all(&dir).ok()?;
    let hex = cache_key(arch, target, &cc, name, src, &flags);
    let bc = dir.join(format!("{}-{}.bc", name.trim_end_matches(".c"), &hex[..32]));
    if !bc.is_file() {
        compile_into(&dir, &cc, &flags, "bc", &[(name, src, bc.clone())]).ok()?;
    }
    Some(bc)
}

/// The runtime objects without their local symbols (static functions and variables, file
/// names), for a build that ships no debug info: an unstripped release binary otherwise
/// carries a symbol table about 5% of a small program's size that only the runtime needs.
/// Each stripped copy is cached beside its object; without `llvm-objcopy-19` (or when it
/// fails) the objects are used as they are.
pub fn without_local_symbols(objects: Vec<PathBuf>) -> Vec<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    objects
        .into_iter()
        .map(|obj| {
            let stripped = obj.with_extension("nolocals.o");
            if stripped.is_file() {
                return stripped;
            }
            let tmp = obj.with_extension(format!("tmp-{}-{}.o", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
            let mut objcopy = Command::new("llvm-objcopy-19");
            objcopy.arg("--strip-unneeded").arg(&obj).arg(&tmp);
            if made_by(&mut objcopy, &tmp, &stripped) {
                return stripped;
            }
            obj
        })
        .collect()
}

/// The runtime objects as one archive, cached beside them (named by their names, which hash
/// their contents): the linker then reads only the members the program needs, so a program
/// without fleets, channels or tables links neither `fleet.c`'s nor `chan.c`'s nor
/// `table.c`'s object and debug info. Without `llvm-ar-19` (or when it fails) the objects
/// are linked as they are.
pub fn as_archive(objects: Vec<PathBuf>) -> Vec<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let Some(dir) = objects.first().and_then(|o| o.parent()).map(Path::to_path_buf) else {
        return objects;
    };
    let mut h = blake3::Hasher::new();
    for o in &objects {
        h.update(o.as_os_str().as_encoded_bytes());
        h.update(&[0]);
    }
    let archive = dir.join(format!("runtime-{}.a", &h.finalize().to_hex().as_str()[..32]));
    if archive.is_file() {
        return vec![archive];
    }
    let tmp = dir.join(format!("tmp-{}-{}.a", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let mut ar = Command::new("llvm-ar-19");
    ar.arg("rcs").arg(&tmp).args(&objects);
    if made_by(&mut ar, &tmp, &archive) {
        return vec![archive];
    }
    objects
}

/// Run `tool` (quietly), which writes `tmp`, then move `tmp` to `path` (atomically, for other
/// builds that share the cache). False, with `tmp` removed, when either fails.
fn made_by(tool: &mut Command, tmp: &Path, path: &Path) -> bool {
    let ok = tool.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok && std::fs::rename(tmp, path).is_ok() {
        return true;
    }
    let _ = std::fs::remove_file(tmp);
    false
}

/// Compile `files` (name, source, final object path) in a private temp folder under `dir`,
/// all at once, then move each object into place with an atomic rename.
fn compile_into(
    dir: &Path,
    cc: &CCompiler,
    flags: &[String],
    ext: &str,
    files: &[(&str, &str, PathBuf)],
) -> Result<(), String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        "tmp-{}-{}-{}",
        std::process::id(),
        nanos,
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let result = (|| {
        for (name, text) in RUNTIME_HEADERS {
            std::fs::write(tmp.join(name), text)
                .map_err(|e| format!("cannot write the runtime header {name}: {e}"))?;
        }
        let mut children = Vec::new();
        for (name, src, _) in files {
            std::fs::write(tmp.join(name), src).map_err(|e| format!("cannot write {name}: {e}"))?;
            let child = Command::new(&cc.program)
                .args(&cc.args)
                .args(flags_for(name, flags))
                .arg(format!(
                    "-fdebug-prefix-map={}=/truk/runtime",
                    tmp.display()
                ))
                .arg("-c")
                .arg(name)
                .arg("-o")
                .arg(format!("{name}.{ext}"))
                .current_dir(&tmp)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run the C compiler `{}`: {e}", cc.program))?;
            children.push(child);
        }
        let mut errors = String::new();
        for ((name, _, obj), child) in files.iter().zip(children) {
            let out = child
                .wait_with_output()
                .map_err(|e| format!("the C compiler `{}` failed: {e}", cc.program))?;
            if !out.status.success() {
                errors.push_str(&format!(
                    "compiling the runtime's {name} with `{}` failed ({}):\n{}{}",
                    cc.program,
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
            std::fs::rename(tmp.join(format!("{name}.{ext}")), obj).map_err(|e| {
                format!("cannot move the runtime object into {}: {e}", obj.display())
            })?;
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.trim_end().to_string())
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
