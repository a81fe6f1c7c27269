//! The no-change rebuild (`driver/fresh.rs`): a second `truk build` with nothing changed
//! keeps the output, and a change to any input (a source, an imported file, a C header or
//! what it includes, a flag, an `-I` folder, the truk binary, the C compiler, the output
//! itself) builds again. `TRUK_TIMINGS` says which happened; the output's mtime agrees.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

mod common;
use common::{text, Scratch};

const APP: &str = "import \"util.truk\";\ncimport \"inc/local.h\";\nextern fn twice(x: i32) : i32;\n\
fn main() : i32 { return twice(util()); }\n";
const UTIL: &str = "fn util() : i32 { return 20; }\n";
const HEADER: &str = "#include \"detail/impl.h\"\n";
const IMPL: &str = "static inline int twice(int x) { return 2 * x; }\n";

struct Project {
    s: Scratch,
    dir: PathBuf,
    out: PathBuf,
    truk: PathBuf,
}

impl Project {
    fn new(name: &str) -> Project {
        let s = Scratch::new(name);
        s.write("proj/app.truk", APP);
        s.write("lib/util.truk", UTIL);
        s.write("proj/inc/local.h", HEADER);
        s.write("proj/inc/detail/impl.h", IMPL);
        let dir = s.0.join("proj");
        let out = s.0.join("out/app");
        Project { s, dir, out, truk: PathBuf::from(env!("CARGO_BIN_EXE_truk")) }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.truk);
        c.current_dir(&self.dir).env("TRUK_TIMINGS", "1").env_remove("TRUK_CC");
        c
    }

    /// `truk build app.truk -o OUT -I ../lib EXTRA` (from the project folder); true when
    /// the output was kept as it was.
    fn build(&self, extra: &[&str]) -> bool {
        self.build_with(self.command(), "app.truk", extra)
    }

    fn build_with(&self, mut c: Command, entry: &str, extra: &[&str]) -> bool {
        let before = mtime(&self.out);
        let o = c.arg("build").arg(entry).arg("-o").arg(&self.out).arg("-I").arg("../lib").args(extra).output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let kept = text(&o.stderr).contains("time: up-to-date");
        assert_eq!(kept, before.is_some() && before == mtime(&self.out), "the timings and the mtime disagree");
        kept
    }

    fn run(&self) -> i32 {
        Command::new(&self.out).status().unwrap().code().unwrap()
    }

    /// Asserts that building with `extra` builds once, then keeps the output.
    fn rebuilds(&self, why: &str, extra: &[&str]) {
        assert!(!self.build(extra), "not rebuilt after {why}");
        assert!(self.build(extra), "rebuilt twice after {why}");
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

#[test]
fn an_unchanged_build_keeps_the_output_and_a_changed_source_rebuilds() {
    let p = Project::new("fresh-sources");
    p.rebuilds("the first build", &[]);
    assert_eq!(p.run(), 40);

    p.s.write("proj/app.truk", &APP.replace("twice(util())", "twice(util()) + 1"));
    p.rebuilds("a change to the entry file", &[]);
    assert_eq!(p.run(), 41);
    p.s.write("lib/util.truk", &UTIL.replace("20", "10"));
    p.rebuilds("a change to an imported file", &[]);
    assert_eq!(p.run(), 21);
    p.s.write("proj/inc/local.h", &format!("{HEADER}// more\n"));
    p.rebuilds("a change to a cimported header", &[]);
    p.s.write("proj/inc/detail/impl.h", &IMPL.replace("2 * x", "3 * x"));
    p.rebuilds("a change to a header the cimported one includes", &[]);
    assert_eq!(p.run(), 31);
    // Found beside the entry before the -I folder: another file in the closure.
    p.s.write("proj/util.truk", "fn util() : i32 { return 5; }\n");
    p.rebuilds("a file shadowing an import", &[]);
    assert_eq!(p.run(), 16);
    std::fs::remove_file(p.dir.join("util.truk")).unwrap();
    p.rebuilds("the shadowing file's removal", &[]);
    assert_eq!(p.run(), 31);
}

#[test]
fn every_option_and_the_output_itself_are_inputs() {
    let p = Project::new("fresh-options");
    p.rebuilds("the first build", &[]);
    p.rebuilds("--release", &["--release"]);
    p.rebuilds("back to debug", &[]);
    p.rebuilds("-g0", &["-g0"]);
    p.rebuilds("--fleet-capacity", &["-g0", "--fleet-capacity", "8"]);
    p.rebuilds("another -I folder", &["-g0", "--fleet-capacity", "8", "-I", "inc"]);
    assert!(!p.build(&[]), "the defaults again");

    // Modified or replaced output.
    let mut bytes = std::fs::read(&p.out).unwrap();
    bytes.push(0);
    std::fs::write(&p.out, &bytes).unwrap();
    p.rebuilds("a modified output", &[]);
    std::fs::copy(&p.out, p.s.0.join("copy")).unwrap();
    std::fs::rename(p.s.0.join("copy"), &p.out).unwrap();
    p.rebuilds("a replaced output", &[]);

    // The entry as spelled and the working folder (debug info holds paths).
    assert!(!p.build_with(p.command(), "./app.truk", &[]), "not rebuilt for another spelling");
    assert!(p.build_with(p.command(), "./app.truk", &[]));
    let mut c = p.command();
    c.current_dir(&p.s.0);
    assert!(!p.build_with(c, "proj/app.truk", &["-I", "lib"]), "not rebuilt from another folder");
}

#[test]
fn another_compiler_or_c_toolchain_rebuilds() {
    let mut p = Project::new("fresh-tools");
    p.rebuilds("the first build", &[]);
    // A truk of the same version but another binary (a rebuilt compiler).
    let copy = p.s.0.join("bin/truk");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&p.truk, &copy).unwrap();
    // `truk` hands builds to the `truk-compiler` beside it: copy that too.
    let compiler = p.truk.with_file_name("truk-compiler");
    std::fs::copy(&compiler, copy.with_file_name("truk-compiler")).unwrap();
    p.truk = copy;
    p.rebuilds("another truk binary", &[]);
    // TRUK_CC: the same compiler and flags as the default (the runtime cache stays valid).
    let mut c = p.command();
    c.env("TRUK_CC", "clang-19 --target=x86_64-linux-gnu");
    assert!(!p.build_with(c, "app.truk", &[]), "not rebuilt for TRUK_CC");
}

/// The light `truk` decides a no-change rebuild itself, without `truk-compiler` (loading
/// LLVM was most of its time), and says what the compiler says; each binary of the pair is
/// an input: replacing either one rebuilds.
#[test]
fn the_light_truk_keeps_an_up_to_date_output_without_the_compiler() {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Project::new("fresh-light");
    let bin = p.s.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["truk", "truk-compiler"] {
        std::fs::copy(p.truk.with_file_name(name), bin.join(name)).unwrap();
    }
    p.truk = bin.join("truk");
    p.rebuilds("the first build", &[]);
    // Without TRUK_TIMINGS: what a user sees.
    let quiet = |program: &Path| {
        let mut c = Command::new(program);
        c.current_dir(&p.dir).env_remove("TRUK_CC").arg("build").arg("app.truk").arg("-o").arg(&p.out).args(["-I", "../lib"]);
        let o = c.output().unwrap();
        (o.status.code(), text(&o.stderr))
    };
    let light = quiet(&p.truk);
    assert_eq!(light, quiet(&bin.join("truk-compiler")));
    assert!(light.1.starts_with("wrote "), "{}", light.1);

    // A compiler that cannot run (chmod leaves its identity as it was) is not needed...
    let compiler = bin.join("truk-compiler");
    std::fs::set_permissions(&compiler, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(p.build(&[]), "rebuilt without a change");
    // ...until something changed.
    p.s.write("proj/app.truk", &APP.replace("twice(util())", "twice(util()) + 2"));
    let (status, err) = quiet(&p.truk);
    assert!(status == Some(1) && err.starts_with("error: cannot run the compiler"), "{err}");
    std::fs::set_permissions(&compiler, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.rebuilds("a change to the entry file", &[]);
    assert_eq!(p.run(), 42);

    for name in ["truk-compiler", "truk"] {
        // A new file (inode and mtime) of the same bytes: a rebuilt compiler of one version.
        std::fs::copy(bin.join(name), bin.join("new")).unwrap();
        std::fs::rename(bin.join("new"), bin.join(name)).unwrap();
        p.rebuilds(&format!("another {name}"), &[]);
    }
}

/// `clang-19 --version` ran on every build: now once per compiler binary (its path, size
/// and mtime), remembered in the cache folder.
#[test]
fn the_c_compiler_version_is_asked_once_per_compiler_binary() {
    let p = Project::new("fresh-cc");
    let log = p.s.0.join("cc.log");
    let cc = p.s.write(
        "bin/cc-wrapper",
        &format!("#!/bin/sh\n[ \"$1\" = --version ] && echo run >> {}\nexec clang-19 \"$@\"\n", log.display()),
    );
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let versions = || std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    let build = |n: i32| {
        p.s.write("proj/app.truk", &APP.replace("twice(util())", &format!("twice(util()) + {n}")));
        let mut c = p.command();
        c.env("TRUK_CC", &cc).env("TRUK_CACHE_DIR", p.s.0.join("cache"));
        assert!(!p.build_with(c, "app.truk", &[]));
    };
    build(1);
    assert_eq!(versions(), 1);
    build(2);
    assert_eq!(versions(), 1, "asked again for an unchanged compiler");
    // A new mtime stands for a new compiler.
    let later = SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&cc).unwrap().set_modified(later).unwrap();
    build(3);
    assert_eq!(versions(), 2, "not asked for a changed compiler");
}
