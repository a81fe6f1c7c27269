//! The no-change rebuild: when the output already is what this build would produce, keep it.
//!
//! Two checks, neither parses nor runs LLVM:
//! - the build fingerprint in the output's note must equal the fingerprint of the import
//!   closure as it is now. The closure is found by scanning the sources for `import` and
//!   `cimport` (no grammar); a scan that finds other files than the parser did gives another
//!   fingerprint, so a full build, never a stale output;
//! - a stamp written after each executable build, in `<cache>/fresh/` under the output's
//!   path, must equal what this build's would be. It covers what the fingerprint leaves out:
//!   the compiler's binaries, `truk` and `truk-compiler` (path, size, mtime, inode: a
//!   rebuilt compiler of the same version), every option (`-I` folders, output), the working folder and the entry as
//!   spelled (debug info holds paths), `TRUK_CC` and the C toolchain's programs, and the
//!   output's own size, mtime and inode (a replaced or modified output is rebuilt).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::diag::Span;
use crate::driver::build::{self, Emit, Options};
use crate::driver::cshim::{CHeader, Header};
use crate::driver::tools;
use crate::fingerprint::NoteInfo;

/// Set (to `1`) by the light `truk` for `truk-compiler` when it found the output of the
/// `truk build` it hands on out of date: the compiler then builds without looking again
/// (a wrong answer could only cost a build, never keep a stale output).
pub const CHECKED_ENV: &str = "TRUK_FRESH_CHECKED";

/// The output and its note, when `opts`' output is up to date.
pub fn up_to_date(entry: &Path, opts: &Options) -> Option<(PathBuf, NoteInfo)> {
    if opts.emit != Emit::Exe {
        return None;
    }
    let out = opts.out.clone().unwrap_or_else(|| build::default_output(entry, opts.emit));
    let recorded = std::fs::read_to_string(stamp_path(&out)?).ok()?;
    let note = crate::fpread::read_note(&out).ok()?;
    let (root, files, cimports) = closure(entry, &opts.include)?;
    let sources: Vec<(&Path, &[u8])> = files.iter().map(|(p, t)| (p.as_path(), t.as_slice())).collect();
    let fp = build::sources_fingerprint(&root, &sources, &cimports, opts);
    (note.build_fp == fp && recorded == stamp(entry, opts, &out, &fp)?).then_some((out, note))
}

/// After a successful build of `out`: the stamp that [`up_to_date`] compares with.
pub fn record(entry: &Path, opts: &Options, out: &Path, build_fp: &[u8; 32]) {
    let (Some(path), Some(text)) = (stamp_path(out), stamp(entry, opts, out, build_fp)) else { return };
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // Only a new stamp adds to the folder: a rebuilt output replaces its own without
    // listing the folder (about 1 ms at 3,000 stamps).
    if !path.exists() {
        prune(dir);
    }
    // Written aside and renamed: a concurrent build reads a whole stamp or none.
    let tmp = dir.join(format!("tmp-{}-{}", std::process::id(), build::unique()));
    if std::fs::write(&tmp, text).is_err() || std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Stamps of outputs in scratch folders pile up: past this many, the folder is emptied.
const MAX_STAMPS: usize = 4096;

fn prune(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    if entries.len() > MAX_STAMPS {
        for p in entries {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn stamp_path(out: &Path) -> Option<PathBuf> {
    let canon = std::fs::canonicalize(out).ok()?;
    let key = blake3::hash(canon.as_os_str().as_encoded_bytes());
    Some(crate::driver::runtime::cache_dir().join("fresh").join(&key.to_hex().as_str()[..32]))
}

/// What, besides the sources, decides the output's bytes; `None` if the output is missing.
fn stamp(entry: &Path, opts: &Options, out: &Path, build_fp: &[u8; 32]) -> Option<String> {
    let exe = compiler_identity()?;
    let cwd = std::env::current_dir().ok()?;
    let cc = std::env::var("TRUK_CC").unwrap_or_default();
    let programs = ["clang-19", "cc", "gcc", "x86_64-linux-gnu-gcc", "aarch64-linux-gnu-gcc", "ld.gold", "x86_64-linux-gnu-ld.gold", "aarch64-linux-gnu-ld.gold"];
    let toolchain: Vec<String> = programs.iter().map(|p| tools::program_identity(p)).collect();
    Some(format!(
        "truk-fresh-v1\nexe {exe}\ncwd {}\nentry {}\noptions {opts:?}\nTRUK_CC {cc}\ntoolchain {}\nbuild_fp {}\nout {}\n",
        cwd.display(),
        entry.display(),
        toolchain.join(" "),
        crate::fingerprint::hex(build_fp),
        tools::file_identity(out)?,
    ))
}

/// The compiler pair's identity: the light `truk` (which decides freshness itself) and
/// `truk-compiler` (which builds), found beside the running binary, so that either one's
/// stamp is the other's; a binary of another name (a test harness) adds its own.
fn compiler_identity() -> Option<String> {
    let me = std::env::current_exe().ok()?;
    let pair = ["truk", "truk-compiler"];
    let mut ids: Vec<String> =
        pair.iter().map(|n| tools::file_identity(&me.with_file_name(n)).unwrap_or_else(|| format!("missing:{n}"))).collect();
    if !me.file_name().is_some_and(|n| pair.iter().any(|p| n == *p)) {
        ids.push(tools::file_identity(&me)?);
    }
    Some(ids.join(" "))
}

type Closure = (PathBuf, Vec<(PathBuf, Vec<u8>)>, Vec<CHeader>);

/// The entry folder, the import closure (paths as `build::load` names them, texts) and the
/// C headers, found as `build::load` does but by [`scan`]; `None` where a full build has
/// something to report (a missing import, a file that is not UTF-8, an escaped name).
fn closure(entry: &Path, include: &[PathBuf]) -> Option<Closure> {
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut files = vec![];
    let mut cimports: Vec<CHeader> = vec![];
    let mut queue = vec![entry.to_path_buf()];
    while let Some(path) = queue.pop() {
        let canon = std::fs::canonicalize(&path).unwrap_or(path.clone());
        if !seen.insert(canon) {
            continue;
        }
        let (text, None) = build::read_source(&path).ok()? else { return None };
        let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let nowhere = Span::new(0, 0, 0);
        for import in scan(&text)? {
            match import {
                Import::Truk(rel) => queue.push(build::resolve_import(&dir, include, &rel)?),
                Import::SystemHeader(h) => build::add_header(&mut cimports, Header::System(h), nowhere),
                Import::LocalHeader(h) => {
                    let p = build::resolve_header(&dir, include, &h)?;
                    build::add_header(&mut cimports, Header::Local(p), nowhere)
                }
            }
        }
        files.push((path, text.into_bytes()));
    }
    Some((build::entry_folder(entry), files, cimports))
}

#[derive(Debug, PartialEq)]
enum Import {
    Truk(String),
    SystemHeader(String),
    LocalHeader(String),
}

/// Every `import "x"`, `cimport "x.h"` and `cimport <x.h>` outside comments and literals:
/// a superset of what the grammar accepts as items. `None` for a name with an escape (a
/// full build decodes it).
fn scan(text: &str) -> Option<Vec<Import>> {
    let b = text.as_bytes();
    let mut found = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') || b.get(i + 1) == Some(&b'*') => i = skip_comment(b, i),
            q @ (b'"' | b'\'') => i = skip_literal(b, i, q).0,
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                if word != "import" && word != "cimport" {
                    continue;
                }
                let mut j = i;
                loop {
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b[j..].starts_with(b"//") || b[j..].starts_with(b"/*") {
                        j = skip_comment(b, j);
                    } else {
                        break;
                    }
                }
                match b.get(j) {
                    Some(b'"') => {
                        let (end, closed) = skip_literal(b, j, b'"');
                        let name = &text[j + 1..end - closed as usize];
                        if name.contains('\\') {
                            return None;
                        }
                        let name = name.to_string();
                        found.push(if word == "import" { Import::Truk(name) } else { Import::LocalHeader(name) });
                        i = end;
                    }
                    Some(b'<') if word == "cimport" => {
                        let end = b[j..].iter().position(|&c| c == b'>' || c == b'\n').map_or(b.len(), |k| j + k);
                        found.push(Import::SystemHeader(text[j + 1..end].to_string()));
                        i = end;
                    }
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
    Some(found)
}

/// The end of the comment starting at `i` (`//` to the line's end, `/*` to `*/`).
fn skip_comment(b: &[u8], i: usize) -> usize {
    let (close, keep): (&[u8], usize) = if b[i + 1] == b'/' { (b"\n", 0) } else { (b"*/", 2) };
    b[i + 2..].windows(close.len()).position(|w| w == close).map_or(b.len(), |k| i + 2 + k + keep)
}

/// The end of the string or character literal starting at `i` (after its closing quote, or
/// at the end of its line when unclosed), and whether it was closed.
fn skip_literal(b: &[u8], i: usize, quote: u8) -> (usize, bool) {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'\n' => return (j, false),
            c if c == quote => return (j + 1, true),
            _ => j += 1,
        }
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_imports_outside_comments_and_literals() {
        let src = "import \"a.truk\";\n// import \"b.truk\";\n/* import \"c.truk\"; */\n\
            fn f() : void { printf(\"import \\\"d.truk\\\"\"); var c: u8 = '\"'; }\n\
            import /* why */ \"e.truk\";\ncimport <stdio.h>;\ncimport \"x.h\";\nvar myimport: i32 = 0;\n";
        let want = vec![
            Import::Truk("a.truk".into()),
            Import::Truk("e.truk".into()),
            Import::SystemHeader("stdio.h".into()),
            Import::LocalHeader("x.h".into()),
        ];
        assert_eq!(scan(src), Some(want));
        assert_eq!(scan("import \"a\\x41.truk\";"), None);
        // Unclosed literals and comments end the scan without a panic.
        for bad in ["import \"a", "import", "cimport <", "/* import \"a\"", "'", "\"\\"] {
            let _ = scan(bad);
        }
    }
}
