//! The `truk` command: runs `truk fleet ...` itself and hands every other command to the
//! compiler, `truk-compiler` beside this binary. Fleet commands thus never load LLVM
//! (37 MB of code linked into the compiler); this binary links no LLVM: it uses truk-core
//! only, never the `truk` library (tests/tools.rs checks).
//! The compiler replaces this process (exec): same pid, arguments, exit status, signals.
//! A `truk build` whose output is up to date ends here (driver/fresh.rs needs no LLVM):
//! loading LLVM was most of a no-change rebuild.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use truk_fleet_cli::FleetCmd;

#[derive(Parser)]
#[command(name = "truk", version, about = "The Truk compiler")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Inspect and clean up the shared-memory regions of running fleets.
    Fleet {
        #[command(subcommand)]
        cmd: FleetCmd,
    },
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "truk".into());
    let rest: Vec<_> = args.collect();
    if rest.first().is_some_and(|a| a == "fleet") {
        let Cmd::Fleet { cmd } = Cli::parse().cmd;
        return truk_fleet_cli::run(cmd);
    }
    // Whether this process found the build's output out of date: the compiler then does not
    // look again (about 1 ms at 10k lines: the sources read and hashed once more).
    let mut stale = false;
    if rest.first().is_some_and(|a| a == "build") {
        match kept_build(&rest[1..]) {
            Kept::Done(done) => return done,
            Kept::Stale => stale = true,
            Kept::Unknown => {}
        }
    }
    let compiler = match std::env::current_exe() {
        Ok(me) => me.with_file_name("truk-compiler"),
        Err(e) => {
            eprintln!("error: cannot find the truk binary's folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cmd = std::process::Command::new(&compiler);
    if stale {
        cmd.env(truk_core::driver::fresh::CHECKED_ENV, "1");
    }
    let e = cmd.arg0(argv0).args(rest).exec();
    eprintln!("error: cannot run the compiler {}: {e}", compiler.display());
    if e.kind() == std::io::ErrorKind::NotFound {
        // A `truk` copied alone: only `fleet` commands work without its compiler.
        eprintln!("  = help: `truk` hands every command but `fleet` to `truk-compiler`: keep the two in one folder");
    }
    ExitCode::FAILURE
}

/// What `truk build ARGS` needs of the compiler.
enum Kept {
    /// The output is up to date: what `truk-compiler` would print and return.
    Done(ExitCode),
    /// It is not (or is missing).
    Stale,
    /// Not known here (an argument not understood: the compiler's parser reports those).
    Unknown,
}

fn kept_build(args: &[std::ffi::OsString]) -> Kept {
    use truk_core::driver::build;
    let Some((entry, opts)) = build_options(args) else { return Kept::Unknown };
    let Ok(opts) = build::checked_options(&opts) else { return Kept::Unknown };
    let Some((out, note)) = build::up_to_date(&entry, &opts) else { return Kept::Stale };
    eprintln!("{}", build::wrote_line(&out, &note));
    Kept::Done(ExitCode::SUCCESS)
}

/// A subset of `truk build`'s arguments (main.rs), each flag at most once (`-I` any number
/// of times), each value a separate argument or after `=` (long options).
fn build_options(args: &[std::ffi::OsString]) -> Option<(std::path::PathBuf, truk_core::driver::build::Options)> {
    let mut opts = truk_core::driver::build::Options::default();
    let mut entry = None;
    let mut seen: Vec<&str> = vec![];
    let mut it = args.iter().map(|a| a.to_str());
    while let Some(arg) = it.next() {
        let arg = arg?;
        let (flag, attached) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        if flag.starts_with('-') && flag != "-I" {
            if seen.contains(&flag) {
                return None;
            }
            seen.push(flag);
        }
        let takes_value = matches!(flag, "-o" | "-I" | "--target" | "--fleet-capacity" | "--emit");
        let value = match (takes_value, attached) {
            (false, Some(_)) => return None,
            (false, None) => "",
            (true, Some(v)) => v,
            (true, None) => it.next()??,
        };
        if takes_value && (value.is_empty() || value.starts_with('-')) {
            return None;
        }
        match flag {
            "--release" => opts.release = true,
            "-g" => opts.debug_info = Some(true),
            "-g0" | "--no-debug-info" => opts.debug_info = Some(false),
            "--deny-warnings" => opts.deny_warnings = true,
            "-o" => opts.out = Some(value.into()),
            "-I" => opts.include.push(value.into()),
            "--target" => opts.target = value.to_string(),
            "--emit" if value == "exe" => {}
            "--fleet-capacity" if value.bytes().all(|b| b.is_ascii_digit()) => opts.fleet_capacity = value.parse().ok()?,
            _ if !flag.starts_with('-') && entry.is_none() => entry = Some(std::path::PathBuf::from(flag)),
            _ => return None,
        }
    }
    // `-g` with `-g0` is an error of the compiler's parser.
    let both = seen.contains(&"-g") && (seen.contains(&"-g0") || seen.contains(&"--no-debug-info"));
    if both || seen.contains(&"-g0") && seen.contains(&"--no-debug-info") {
        return None;
    }
    Some((entry?, opts))
}

#[cfg(test)]
mod tests {
    use super::build_options;

    fn parse(args: &str) -> Option<String> {
        let args: Vec<std::ffi::OsString> = args.split_whitespace().map(Into::into).collect();
        build_options(&args).map(|(entry, o)| format!("{} {o:?}", entry.display()))
    }

    #[test]
    fn build_options_understands_a_subset_and_leaves_the_rest_to_the_compiler() {
        let all = parse("a.truk -o out --release -g -I x -I y --target aarch64-linux-gnu --fleet-capacity 8 --deny-warnings --emit exe").unwrap();
        for want in ["a.truk ", "release: true", "\"aarch64-linux-gnu\"", "[\"x\", \"y\"]", "Some(\"out\")", "fleet_capacity: 8", "debug_info: Some(true)", "deny_warnings: true"] {
            assert!(all.contains(want), "{want} in {all}");
        }
        assert_eq!(parse("--target=x86_64-linux-gnu --fleet-capacity=3 -g0 a.truk"), parse("a.truk --no-debug-info --fleet-capacity 3 --target x86_64-linux-gnu"));
        // What the compiler's parser rejects, or what this one does not know: the compiler's.
        for other in [
            "", "a.truk b.truk", "a.truk --release --release", "a.truk -o x -o y", "a.truk -g -g0", "a.truk -g --no-debug-info",
            "a.truk -oout", "a.truk -o", "a.truk -o -x", "a.truk --emit obj", "a.truk --fleet-capacity +8", "a.truk --release=1",
            "a.truk --", "-- a.truk", "a.truk --help", "-h", "-", "a.truk --target= ",
        ] {
            assert_eq!(parse(other), None, "{other:?}");
        }
    }
}
