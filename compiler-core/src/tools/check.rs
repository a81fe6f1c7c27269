//! `truk check FILE`: the front of a build (load the import closure, parse, type-check, lower
//! to MIR and check the size limits) without LLVM, with the diagnostics a build would give.

use std::path::{Path, PathBuf};

use crate::diag::{render_all, Diagnostic, Severity, Span};
use crate::driver::build::{load, on_compiler_stack};
use crate::hir;

/// Check `entry` for `target`. `lib`: the file need not have a `main` (a module that others
/// import). On failure, the rendered diagnostics.
pub fn check_file(entry: &Path, include: &[PathBuf], target: &str, lib: bool) -> Result<(), String> {
    on_compiler_stack(|| {
        let loaded = load(entry, include).map_err(|(s, d)| render_all(&d, &s))?;
        let (prog, diags) = hir::check::check(&loaded.modules);
        if diags.iter().any(|d| d.severity == Severity::Error) {
            return Err(render_all(&diags, &loaded.sources));
        }
        // What is not an error (a warning) is shown, and the check goes on.
        eprint!("{}", render_all(&diags, &loaded.sources));
        if !lib && prog.main.is_none() {
            // As `truk build` says it, at the entry file's start.
            let d = Diagnostic::error(Span::new(0, 0, 0), "no `main` function: a program needs `fn main() : i32`")
                .with_note("help: `truk check --lib` checks a file that other files import");
            return Err(render_all(&[d], &loaded.sources));
        }
        let prog = crate::mir::lower(prog, target);
        let diags = crate::mir::limits::check(&prog, target);
        if !diags.is_empty() {
            return Err(render_all(&diags, &loaded.sources));
        }
        Ok(())
    })
}
