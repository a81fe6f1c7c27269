//! Linking Truk programs with the system C toolchain (which brings crt files and libc).
//! Output is a PIE; unused sections are dropped; libm is always linked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::runtime::{host_arch, target_arch, Arch};

/// Linker drivers to try for a target, best first.
fn linker_candidates(arch: Arch) -> Vec<(&'static str, Vec<&'static str>)> {
    let native = host_arch() == Some(arch);
    match arch {
        Arch::X86_64 if native => vec![("cc", vec![]), ("gcc", vec![]), ("clang-19", vec![])],
        Arch::X86_64 => vec![("x86_64-linux-gnu-gcc", vec![])],
        Arch::Aarch64 if native => vec![("cc", vec![]), ("gcc", vec![]), ("clang-19", vec![])],
        Arch::Aarch64 => vec![("aarch64-linux-gnu-gcc", vec![])],
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
) -> Result<(), String> {
    let arch = target_arch(target)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create the output folder {}: {e}", parent.display()))?;
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
        cmd.arg("-lm").stdin(Stdio::null());
        let output = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot run the linker `{program}`: {e}")),
        };
        if output.status.success() {
            return Ok(());
        }
        let mut msg = format!(
            "linking {} failed (`{program}` {}):",
            out.display(),
            output.status
        );
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            if !text.trim().is_empty() {
                msg.push('\n');
                msg.push_str(text.trim_end());
            }
        }
        return Err(msg);
    }
    Err(format!(
        "no linker found for {target} (tried {}); run ci/setup to install the toolchain",
        candidates
            .iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Blank the name of the C runtime's entry symbol `main` in a linked ELF executable's symbol
/// table. gdb sets a breakpoint on every function symbol named `main`, so with it `break
/// main` would stop in the C entry first; without it, only the Truk `main` of the DWARF
/// matches. The loader never reads `.symtab`, so the program is unchanged.
pub fn unname_c_main(exe: &Path) -> Result<(), String> {
    use object::elf::{FileHeader64, SHT_SYMTAB, STT_FUNC};
    use object::read::elf::FileHeader;
    let err = |e: &dyn std::fmt::Display| format!("cannot edit the symbol table of {}: {e}", exe.display());
    let mut data = std::fs::read(exe).map_err(|e| err(&e))?;
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
    // Offset 0 of the string table is the empty name, in every ELF file.
    data[offset..offset + 4].fill(0);
    std::fs::write(exe, &data).map_err(|e| err(&e))
}
