//! The `truk` command: runs `truk fleet ...` itself and hands every other command to the
//! compiler, `truk-compiler` beside this binary. Fleet commands thus never load LLVM
//! (a shared library whose loading alone took about 25 ms); this binary links no LLVM.
//! The compiler replaces this process (exec): same pid, arguments, exit status, signals.

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
    let compiler = match std::env::current_exe() {
        Ok(me) => me.with_file_name("truk-compiler"),
        Err(e) => {
            eprintln!("error: cannot find the truk binary's folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let e = std::process::Command::new(&compiler).arg0(argv0).args(rest).exec();
    eprintln!("error: cannot run the compiler {}: {e}", compiler.display());
    if e.kind() == std::io::ErrorKind::NotFound {
        // A `truk` copied alone: only `fleet` commands work without its compiler.
        eprintln!("  = help: `truk` hands every command but `fleet` to `truk-compiler`: keep the two in one folder");
    }
    ExitCode::FAILURE
}
