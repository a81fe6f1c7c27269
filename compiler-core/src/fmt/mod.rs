//! `truk fmt`: one canonical layout for Truk source (see `layout.rs` for the style).
//!
//! The formatter changes only the whitespace between tokens (`lex.rs` keeps every token's
//! spelling and every comment), and only of a file that parses. It parses the result again
//! and gives up, leaving the file as it is, if the program read differently (the ASTs
//! compared without their spans), so a layout rule's mistake can never change a program.

mod lex;
mod layout;

use std::path::{Path, PathBuf};

use crate::diag::{render_all, SourceMap};
use crate::syntax::{ast, parser};

/// The formatted text of `src`; on failure, rendered diagnostics (`path` names the file).
pub fn format_source(src: &str, path: &Path) -> Result<String, String> {
    // On the compiler's stack, as a build parses: the trees may nest 1000 levels deep.
    crate::driver::build::on_compiler_stack(|| format_here(src, path))
}

fn format_here(src: &str, path: &Path) -> Result<String, String> {
    let (before, diags) = parser::parse_module(src, 0);
    if !diags.is_empty() {
        let mut sources = SourceMap::default();
        sources.add(path.to_path_buf(), src.to_string());
        return Err(render_all(&diags, &sources));
    }
    let toks = lex::tokens(src).ok_or_else(|| format!("error: cannot format {}: unknown character", path.display()))?;
    let out = layout::layout(&toks);
    let (after, diags) = parser::parse_module(&out, 0);
    if !diags.is_empty() || shape(&before) != shape(&after) {
        return Err(format!("error: internal formatter error: the layout of {} would change its program; left as it is", path.display()));
    }
    Ok(out)
}

/// The AST without its spans, as text: equal for two layouts of the same program.
pub fn shape(m: &ast::Module) -> String {
    let text = format!("{:?}", m.items);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("Span {") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once('}').map_or("", |(_, r)| r);
    }
    out.push_str(rest);
    out
}

/// The `.truk` files named by the arguments (folders searched recursively), sorted.
fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        match std::fs::read_dir(&p) {
            Ok(rd) => todo.extend(rd.flatten().map(|e| e.path()).filter(|e| e.is_dir() || e.extension().is_some_and(|x| x == "truk"))),
            Err(_) => out.push(p),
        }
    }
    out.sort();
    out
}

/// `truk fmt [--check] PATH...`: rewrite the files whose layout is not the canonical one, or
/// with `check`, list them on stdout. Fails when any would change or cannot be formatted.
pub fn run(paths: &[PathBuf], check: bool) -> bool {
    let mut ok = true;
    for f in files(paths) {
        let src = match std::fs::read_to_string(&f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                ok = false;
                continue;
            }
        };
        match format_source(&src, &f) {
            Ok(out) if out == src => {}
            Ok(_) if check => {
                println!("{}", f.display());
                ok = false;
            }
            Ok(out) => {
                if let Err(e) = std::fs::write(&f, out) {
                    eprintln!("error: cannot write {}: {e}", f.display());
                    ok = false;
                }
            }
            Err(e) => {
                eprint!("{e}");
                ok = false;
            }
        }
    }
    ok
}
