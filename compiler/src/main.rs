//! The `truk` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use truk::driver::build::{
    build, build_with_note, host_target, Emit, Options, FLEET_CAPACITY, MAX_FLEET_CAPACITY,
};
use truk::driver::target;

#[derive(Parser)]
#[command(name = "truk", version, about = "The Truk compiler")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum EmitArg {
    Exe,
    Obj,
    Asm,
    LlvmIr,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Optimize (LLVM's O2 pipeline); bounds checks stay.
    #[arg(long)]
    release: bool,
    /// DWARF line tables in a --release build too (debug builds have them).
    #[arg(short = 'g')]
    debug_info: bool,
    /// No DWARF line tables, even in a debug build (also spelled -g0).
    #[arg(long, conflicts_with = "debug_info")]
    no_debug_info: bool,
    /// Target triple, e.g. aarch64-unknown-linux-gnu (`truk targets` lists them).
    #[arg(long)]
    target: Option<String>,
    /// Folder to search for imports (repeatable).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Members the fleet's attach table holds (part of the build fingerprint).
    #[arg(long, value_name = "N", default_value_t = FLEET_CAPACITY,
          value_parser = clap::value_parser!(u32).range(1..=MAX_FLEET_CAPACITY as i64))]
    fleet_capacity: u32,
    /// Fail the build when the compiler warns.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a Truk program.
    Build {
        #[command(flatten)]
        args: BuildArgs,
        file: PathBuf,
        /// Output path (default: the file's name without extension).
        #[arg(short = 'o')]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "exe")]
        emit: EmitArg,
    },
    /// Compile and run a Truk program.
    Run {
        #[command(flatten)]
        args: BuildArgs,
        file: PathBuf,
        /// Arguments for the program.
        #[arg(last = true)]
        rest: Vec<String>,
    },
    /// Run the `test_*` functions of a file, or of every .truk file in a folder.
    Test {
        #[command(flatten)]
        args: BuildArgs,
        /// Run only the tests whose name contains this.
        #[arg(long, value_name = "SUBSTRING")]
        filter: Option<String>,
        /// Print the names of the tests instead of running them.
        #[arg(long)]
        list: bool,
        path: PathBuf,
    },
    /// Inspect and clean up the shared-memory regions of running fleets.
    Fleet {
        #[command(subcommand)]
        cmd: truk_fleet_cli::FleetCmd,
    },
    /// Parse and type-check a file and its imports, without generating code.
    Check {
        /// Target triple whose size limits apply (default: this machine's).
        #[arg(long)]
        target: Option<String>,
        /// Folder to search for imports (repeatable).
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// The file need not define `main` (a module other files import).
        #[arg(long)]
        lib: bool,
        file: PathBuf,
    },
    /// Create a project folder: main.truk, a test file and a README.
    New { name: PathBuf },
    /// Lay out Truk files in the canonical style (folders: every .truk file in them).
    Fmt {
        /// Change nothing: list the files that would change, and fail if there are any.
        #[arg(long)]
        check: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Serve editors the Language Server Protocol on stdin/stdout.
    Lsp,
    /// List the targets this machine can build for (and run), and what it lacks for the others.
    Targets,
    /// Print the build fingerprint of a Truk binary.
    Fp {
        /// Print every field of the note as JSON.
        #[arg(long)]
        json: bool,
        binary: PathBuf,
    },
}

fn options(a: &BuildArgs) -> Options {
    Options {
        release: a.release,
        target: a.target.clone().unwrap_or_else(host_target),
        include: a.include.clone(),
        fleet_capacity: a.fleet_capacity,
        debug_info: if a.no_debug_info {
            Some(false)
        } else {
            a.debug_info.then_some(true)
        },
        deny_warnings: a.deny_warnings,
        ..Options::default()
    }
}

fn main() -> ExitCode {
    two_malloc_arenas();
    // Not passed on to what this process runs (the C compiler, the linker, a program).
    let fresh_checked = std::env::var_os(truk::driver::fresh::CHECKED_ENV).is_some();
    std::env::remove_var(truk::driver::fresh::CHECKED_ENV);
    // `-g0`, as C compilers spell it, is not a clap flag: a short flag cannot take an
    // optional attached value without also swallowing the next argument. After `--`, the
    // arguments are the program's.
    let mut ours = true;
    let cli = Cli::parse_from(std::env::args_os().map(|a| {
        ours &= a != "--";
        if ours && a == "-g0" {
            "--no-debug-info".into()
        } else {
            a
        }
    }));
    match cli.cmd {
        Cmd::Build { args, file, out, emit } => {
            let mut o = options(&args);
            o.out = out;
            o.emit = match emit {
                EmitArg::Exe => Emit::Exe,
                EmitArg::Obj => Emit::Obj,
                EmitArg::Asm => Emit::Asm,
                EmitArg::LlvmIr => Emit::LlvmIr,
            };
            truk::driver::build::exit_after_build();
            if fresh_checked {
                truk::driver::build::fresh_already_checked();
            }
            match build_with_note(&file, &o) {
                Ok((out, note)) => {
                    // stderr: stdout stays the program's (truk run) or the tool's (truk fp).
                    eprintln!("{}", truk::driver::build::wrote_line(&out, &note));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Run { args, file, rest } => {
            let mut o = options(&args);
            let runner = match runner_for(&o.target) {
                Ok(r) => r,
                Err(e) => return fail(&e),
            };
            let dir = scratch();
            o.out = Some(dir.join("prog"));
            let r = match build(&file, &o) {
                Ok(exe) => run_exe(&runner, &exe, &rest),
                Err(e) => fail(&e),
            };
            let _ = std::fs::remove_dir_all(&dir);
            r
        }
        Cmd::Test { args, filter, list, path } => test(&options(&args), &path, filter.as_deref(), list),
        Cmd::Fp { json, binary } => fp(&binary, json),
        Cmd::Fleet { cmd } => truk_fleet_cli::run(cmd),
        Cmd::Targets => {
            print!("{}", target::describe_all());
            ExitCode::SUCCESS
        }
        Cmd::Check { target, include, lib, file } => {
            let target = target.unwrap_or_else(host_target);
            match truk::tools::check::check_file(&file, &include, &target, lib) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Cmd::New { name } => match truk::tools::new::new_project(&name) {
            Ok(()) => {
                eprintln!("created {} (main.truk, main_test.truk, README.md)", name.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Cmd::Fmt { check, paths } => {
            if truk::fmt::run(&paths, check) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::Lsp => match truk::lsp::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("error: truk lsp: {e}")),
        },
    }
}

fn fail(msg: &str) -> ExitCode {
    eprint!("{}", truk::diag::for_stderr(msg));
    if !msg.ends_with('\n') {
        eprintln!();
    }
    ExitCode::FAILURE
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("truk-run-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The command prefix that runs programs built for `triple` here (qemu-user for a foreign
/// architecture); checked before building so a missing qemu costs no compile.
fn runner_for(triple: &str) -> Result<Vec<std::ffi::OsString>, String> {
    let t = target::parse(triple).map_err(|e| format!("error: {e}"))?;
    t.runner().map_err(|e| format!("error: {e}"))
}

fn run_exe(runner: &[std::ffi::OsString], exe: &std::path::Path, args: &[String]) -> ExitCode {
    match target::command_under(runner, exe).args(args).status() {
        Ok(st) => match st.code() {
            Some(c) => ExitCode::from(c as u8),
            None => {
                use std::os::unix::process::ExitStatusExt;
                ExitCode::from(128u8.wrapping_add(st.signal().unwrap_or(0) as u8))
            }
        },
        Err(e) => fail(&format!("error: cannot run {}: {e}", exe.display())),
    }
}

/// `truk test`: build each file's test runner and run it (`testfw.c` runs each test in a
/// child process and prints its report); over several files, a total ends the output.
fn test(o: &Options, path: &std::path::Path, filter: Option<&str>, list: bool) -> ExitCode {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = walk(path).into_iter().filter(|p| p.extension().is_some_and(|e| e == "truk")).collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let runner = match runner_for(&o.target) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let dir = scratch();
    let results = dir.join("results");
    let (mut passed, mut failed, mut broken) = (0u64, 0u64, 0u64);
    for (i, f) in files.iter().enumerate() {
        let mut o = o.clone();
        o.tests = true;
        o.out = Some(dir.join(format!("test{i}")));
        if files.len() > 1 && !list {
            println!("== {}", f.display());
        }
        let exe = match build(f, &o) {
            Ok(exe) => exe,
            Err(e) => {
                eprint!("{}", truk::diag::for_stderr(&e));
                broken += 1;
                continue;
            }
        };
        let _ = std::fs::remove_file(&results);
        let mut cmd = target::command_under(&runner, &exe);
        cmd.env("TRUK_TEST_RESULTS", &results).env_remove("TRUK_TEST_LIST").env_remove("TRUK_TEST_FILTER");
        if let Some(f) = filter {
            cmd.env("TRUK_TEST_FILTER", f);
        }
        if list {
            cmd.env("TRUK_TEST_LIST", "1");
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let ok = cmd.status().is_ok_and(|s| s.success());
        // The runner's own counts; a runner that died before writing them is one failure.
        let counts = std::fs::read_to_string(&results).ok().and_then(|t| {
            let mut w = t.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((w.next()??, w.next()??))
        });
        match counts {
            Some((p, m)) => (passed, failed) = (passed + p, failed + m),
            None if !ok => failed += 1,
            None => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if files.len() > 1 && !list {
        if broken > 0 {
            println!("{broken} file(s) did not compile");
        }
        println!("{passed} passed, {} failed", failed + broken);
    }
    if failed == 0 && broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn fp(binary: &std::path::Path, json: bool) -> ExitCode {
    match truk::fpread::read_note(binary) {
        Ok(n) => {
            use truk::fingerprint::hex;
            if json {
                println!(
                    "{{\"build_fingerprint\":\"{}\",\"layout_fingerprint\":\"{}\",\"target\":{:?},\"profile\":{:?},\"compiler_version\":{:?},\"region_size\":{},\"fleet_capacity\":{}}}",
                    hex(&n.build_fp),
                    hex(&n.layout_fp),
                    n.target,
                    n.profile,
                    n.compiler_version,
                    n.region_size,
                    n.fleet_capacity
                );
            } else {
                println!("{}", hex(&n.build_fp));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("error: {e}")),
    }
}

/// At most two glibc malloc arenas. The codegen threads otherwise each get an arena of their
/// own, which cannot reuse what the main thread freed (the syntax trees, once checked); with
/// two, one of them works in the main thread's arena and reuses it (50k lines: peak 138 MB
/// instead of 148; 10k: 86.5 instead of 89.5, time unchanged, paired). One arena for all
/// would save more but costs a quarter more time: both codegen threads wait on its lock.
fn two_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first in `main`, before any thread; it only sets a malloc parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
