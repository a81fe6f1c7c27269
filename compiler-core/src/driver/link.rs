//! Linking Truk programs with the system C toolchain (which brings crt files and libc).
//! Output is a PIE; unused sections are dropped; libm is always linked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::runtime::{host_arch, target_arch, Arch};
use crate::diag::{render_all, Diagnostic, SourceMap};

/// Linker drivers to try for a target, best first. The driver's own linker (GNU ld) stays:
/// Debian's ld.lld-19 loads libLLVM.so (about 13 ms before it reads an input), so a debug
/// link of 10k lines took 1.16x the CPU of GNU ld's, and gold saved nothing measurable; nor
/// did mold 1.10 (`-fuse-ld=mold`, also with `--no-fork`: 1.04x the wall time of a 10k debug
/// link, paired): the link is mostly fixed cost (an empty C program's takes 15 of its 22 ms).
fn linker_candidates(arch: Arch) -> Vec<(&'static str, Vec<&'static str>)> {
    let native = host_arch() == Some(arch);
    match arch {
        Arch::X86_64 if native => vec![("cc", vec![]), ("gcc", vec![]), ("clang-19", vec![])],
        Arch::X86_64 => vec![("x86_64-linux-gnu-gcc", vec![])],
        Arch::Aarch64 if native => vec![("cc", vec![]), ("gcc", vec![]), ("clang-19", vec![])],
        Arch::Aarch64 => vec![("aarch64-linux-gnu-gcc", vec![])],
    }
}

/// Why a link failed.
#[derive(Debug)]
pub enum LinkFailure {
    /// The linker ran and failed: its name, exit status and output (in the C locale).
    Linker { program: String, status: String, output: String },
    /// Anything else, as one line.
    Other(String),
}

/// The raw form, for callers that are not `truk build` (tests, tools).
impl std::fmt::Display for LinkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            LinkFailure::Linker { program, status, output } => write!(f, "linking with `{program}` failed ({status}):\n{output}"),
            LinkFailure::Other(e) => f.write_str(e),
        }
    }
}

/// Link `objects` (program and runtime objects) into the executable `out` for `target`.
/// Without `debug_info`, the runtime's own DWARF is dropped too: a build without debug
/// info ships none (the fingerprint note is an allocated section and stays).
pub fn link(
    objects: &[PathBuf],
    out: &Path,
    target: &str,
    release: bool,
    debug_info: bool,
) -> Result<(), LinkFailure> {
    let arch = target_arch(target).map_err(LinkFailure::Other)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            LinkFailure::Other(format!("cannot create the output folder {}: {e}", parent.display()))
        })?;
    }
    let candidates = linker_candidates(arch);
    for (program, pre) in &candidates {
        let mut cmd = Command::new(program);
        cmd.args(pre)
            .args(objects)
            .arg("-o")
            .arg(out)
            .arg("-Wl,--gc-sections");
        if release {
            cmd.arg("-Wl,-O1");
        }
        if !debug_info {
            cmd.arg("-Wl,--strip-debug");
        }
        // The C locale: `undefined_symbols` reads the linker's English.
        cmd.arg("-lm").stdin(Stdio::null()).env("LC_ALL", "C");
        let output = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LinkFailure::Other(format!("cannot run the linker `{program}`: {e}"))),
        };
        if output.status.success() {
            return Ok(());
        }
        return Err(LinkFailure::Linker {
            program: program.to_string(),
            status: output.status.to_string(),
            output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        });
    }
    Err(LinkFailure::Other(format!(
        "no linker found for {target} (tried {}); run ci/setup to install the toolchain",
        candidates
            .iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The symbols a linker's `output` says are undefined, each once, in order: GNU ld's
/// "undefined reference to `NAME'" and lld's "undefined symbol: NAME".
pub fn undefined_symbols(output: &str) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for line in output.lines() {
        let rest = ["undefined reference to ", "undefined symbol: "].iter().find_map(|m| line.find(m).map(|at| &line[at + m.len()..]));
        let Some(rest) = rest else { continue };
        let name = rest.trim().trim_start_matches(['`', '\'', '\u{2018}']).trim_end_matches(['\'', '`', '\u{2019}']);
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// Blank the name of the C runtime's entry symbol `main` in a linked ELF executable's symbol
/// table. gdb sets a breakpoint on every function symbol named `main`, so with it `break
/// main` would stop in the C entry first; without it, only the Truk `main` of the DWARF
/// matches. The loader never reads `.symtab`, so the program is unchanged.
pub fn unname_c_main(exe: &Path) -> Result<(), String> {
    use object::elf::{FileHeader64, SHT_SYMTAB, STT_FUNC};
    use object::read::elf::FileHeader;
    let err = |e: &dyn std::fmt::Display| format!("cannot edit the symbol table of {}: {e}", exe.display());
    let data = std::fs::read(exe).map_err(|e| err(&e))?;
    let offset = {
        let header = FileHeader64::<object::Endianness>::parse(&*data).map_err(|e| err(&e))?;
        let endian = header.endian().map_err(|e| err(&e))?;
        let sections = header.sections(endian, &*data).map_err(|e| err(&e))?;
        let symbols = sections.symbols(endian, &*data, SHT_SYMTAB).map_err(|e| err(&e))?;
        let Some(index) = symbols.iter().position(|s| s.st_type() == STT_FUNC && symbols.symbol_name(endian, s) == Ok(b"main")) else {
            return Ok(());
        };
        let symtab = sections.section(symbols.section()).map_err(|e| err(&e))?;
        // `st_name` is the first field of an Elf64_Sym (24 bytes).
        symtab.sh_offset.get(endian) as usize + index * std::mem::size_of::<object::elf::Sym64<object::Endianness>>()
    };
    // Offset 0 of the string table is the empty name, in every ELF file. Only those 4 bytes
    // are written: rewriting the whole executable cost a few ms of every debug build's link.
    if offset + 4 > data.len() {
        return Err(err(&"the symbol table lies past the end of the file"));
    }
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(exe).map_err(|e| err(&e))?;
    file.write_all_at(&[0; 4], offset as u64).map_err(|e| err(&e))
}

/// Drop the undefined symbols (the imports: `printf@GLIBC_2.2.5`, weak `__gmon_start__`...)
/// from a linked executable's `.symtab`, for a release build without debug info. Each is also in
/// `.dynsym`, which the loader needs and which gdb (`printf@plt`), perf and `nm -D` read, so
/// nothing is lost; in a small program they are over a third of the symbol table
/// (bench/codegen/maps: 23 of 61 symbols, 1,000 of its 17,472 bytes). Defined symbols, the
/// program's functions and the runtime's entry points, stay. Left as linked without
/// `llvm-objcopy-19` or when it fails.
pub fn drop_imports_from_symtab(exe: &Path) {
    use object::{Object, ObjectSymbol};
    let Ok(data) = std::fs::read(exe) else { return };
    let Ok(file) = object::File::parse(&*data) else { return };
    let names: Vec<String> = file
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(|n| format!("--strip-symbol={n}")))
        .collect();
    if names.is_empty() {
        return;
    }
    let Some(name) = exe.file_name() else { return };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".symtab-{}.tmp", std::process::id()));
    let tmp = exe.with_file_name(tmp_name);
    let ok = Command::new("llvm-objcopy-19").args(&names).arg(exe).arg(&tmp).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok || std::fs::rename(&tmp, exe).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// A failed link as the user should see it: each undefined external at its declaration (a
/// diagnostic), anything else one `error:` line without the temporary objects' names.
pub fn failure_message(failure: LinkFailure, prog: &crate::hir::Program, sources: &SourceMap) -> String {
    let (program, status, output) = match failure {
        LinkFailure::Other(e) => return format!("error: {e}\n"),
        LinkFailure::Linker { program, status, output } => (program, status, output),
    };
    let mut diags = vec![];
    let mut unknown = vec![];
    for name in undefined_symbols(&output) {
        let func = prog.funcs.iter().find(|f| f.is_extern && (f.name == name || f.symbol == name));
        let var = prog.globals.iter().find(|g| g.is_extern && (g.name == name || g.symbol == name));
        let found = func.map(|f| ("function", f.span)).or(var.map(|g| ("variable", g.span)));
        match found {
            Some((what, span)) => diags.push(
                Diagnostic::error(span, format!("undefined external {what} `{name}`"))
                    .with_note(format!("note: nothing linked into the program (its Truk code, the C library, libm) defines `{name}`")),
            ),
            None => unknown.push(format!("`{name}`")),
        }
    }
    diags.sort_by_key(|d| d.span.map(|s| (s.file, s.lo)));
    let mut msg = render_all(&diags, sources);
    if diags.is_empty() || !unknown.is_empty() {
        let what = if unknown.is_empty() {
            first_message(&output).map(|m| format!(": {m}")).unwrap_or_default()
        } else {
            format!(": undefined {}", unknown.join(", "))
        };
        msg.push_str(&format!("error: linking with `{program}` failed ({status}){what}"));
        msg.push_str(&raw_output("the linker", &output));
    }
    msg
}

/// The linker's first message, when it names none of truk's temporary or cached files.
fn first_message(output: &str) -> Option<&str> {
    let temp = std::env::temp_dir();
    let cache = super::runtime::cache_dir();
    let private = [temp.to_string_lossy(), cache.to_string_lossy()];
    output
        .lines()
        .filter(|l| !l.starts_with("collect2"))
        .map(|l| l.rsplit_once("ld: ").map_or(l, |(_, m)| m).trim())
        .find(|m| !m.is_empty())
        .filter(|m| !private.iter().any(|p| m.contains(p.as_ref())))
}

/// `TRUK_VERBOSE=1`: the toolchain's own output after our summary of it; otherwise a hint.
pub fn raw_output(tool: &str, output: &str) -> String {
    if std::env::var_os("TRUK_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0") {
        format!("\n{}\n", output.trim_end())
    } else {
        format!("\n  = help: TRUK_VERBOSE=1 shows the output of {tool}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::undefined_symbols;

    #[test]
    fn undefined_symbols_of_gnu_ld_and_lld() {
        let gnu = "/usr/bin/ld: /tmp/truk-1-2.o: in function `main':\n/x/u.truk:4: undefined reference to `alsonot'\n\
/usr/bin/ld: /x/u.truk:5: undefined reference to `nothere'\n/usr/bin/ld: more: undefined reference to `alsonot'\n\
ld: z.o: undefined reference to \u{2018}quoted\u{2019}\ncollect2: error: ld returned 1 exit status\n";
        assert_eq!(undefined_symbols(gnu), ["alsonot", "nothere", "quoted"]);
        let lld = "ld.lld: error: undefined symbol: nothere\n>>> referenced by u.truk:5\nld.lld: error: undefined symbol: gv\n";
        assert_eq!(undefined_symbols(lld), ["nothere", "gv"]);
        assert!(undefined_symbols("ld: cannot open output file x: Is a directory\n").is_empty());
    }
}
