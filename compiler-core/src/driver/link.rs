//! Linking Truk programs with the system C toolchain (which brings crt files and libc).
//! Output is a PIE; unused sections are dropped; libm is always linked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::runtime::{host_arch, target_arch, Arch};
use crate::diag::{render_all, Diagnostic, SourceMap};

/// Linker drivers to try for a target, best first, each with the linker it asks for: for
/// unoptimized builds gold when binutils' `ld.gold` is there (Debian ships it with every
/// `ld`), else the driver's default GNU ld. At 10k lines (debug, 4 objects and the runtime
/// archive) gold runs 0.47x GNU ld's instructions and takes 0.71x its wall time (paired).
/// Release builds keep GNU ld: gold's `--gc-sections` drops the runtime's unused code but
/// keeps the libc imports only that code made (`strcmp` in a program with integer-keyed
/// maps alone), and their link is a small part of their build. Not taken: mold 1.10 (as
/// fast as gold in wall time, 3x its instructions, and a package of its own); Debian's
/// ld.lld-19 (loads libLLVM.so, about 13 ms before it reads an input); `--build-id=none`
/// (0.97x CPU over gold, and tools such as `coredumpctl` look binaries up by it). What gold
/// does not do: GNU ld's `-z separate-code` (read-only data gets its own segment, not the
/// code's); and a debug binary's `.dynsym` may name libc functions only dropped code called
/// (no relocation refers to them: the loader never binds them).
fn linker_candidates(arch: Arch, release: bool) -> Vec<(&'static str, Vec<&'static str>)> {
    let native = host_arch() == Some(arch);
    let gold = |ld: &str| if !release && super::tools::which(ld).is_some() { vec!["-fuse-ld=gold"] } else { vec![] };
    match arch {
        _ if native => {
            let g = gold("ld.gold");
            vec![("cc", g.clone()), ("gcc", g.clone()), ("clang-19", g)]
        }
        Arch::X86_64 => vec![("x86_64-linux-gnu-gcc", gold("x86_64-linux-gnu-ld.gold"))],
        Arch::Aarch64 => vec![("aarch64-linux-gnu-gcc", gold("aarch64-linux-gnu-ld.gold"))],
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
    let candidates = linker_candidates(arch, release);
    // md5 build IDs: GNU ld's default, sha1, was a fifth of gold's instructions at 10k lines.
    let mut post = vec!["-Wl,--gc-sections", "-Wl,--build-id=md5"];
    if release {
        post.push("-Wl,-O1");
    }
    if !debug_info {
        post.push("-Wl,--strip-debug");
    }
    post.push("-lm");
    let run = |cmd: &mut Command| {
        // The C locale: `undefined_symbols` reads the linker's English.
        cmd.stdin(Stdio::null()).env("LC_ALL", "C").output()
    };
    for (program, pre) in &candidates {
        // The linker itself when the driver's command line for it is known (`ld.rs`); a link
        // that fails that way is linked again through the driver, which reports.
        if let Some(argv) = super::ld::command(program, pre, &post, objects, out) {
            if run(Command::new(&argv[0]).args(&argv[1..])).is_ok_and(|o| o.status.success()) {
                return Ok(());
            }
        }
        let mut cmd = Command::new(program);
        cmd.args(pre).args(objects).arg("-o").arg(out).args(&post);
        let output = match run(&mut cmd) {
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
/// from a linked executable's `.symtab` and their names from its `.strtab`, for a release
/// build without debug info. Each is also in `.dynsym`, which the loader needs and which gdb
/// (`printf@plt`), perf and `nm -D` read, so nothing is lost; in a small program they are over
/// a third of the symbol table (bench/codegen/maps: 23 of 61 symbols, 1,000 of its 17,472
/// bytes). Defined symbols, the program's functions and the runtime's entry points, stay.
/// Done in place of a tool (llvm-objcopy took about 20 ms of CPU, mostly its start): only the
/// non-loaded tail of the file is laid out again. A file of another shape (big-endian,
/// relocations against `.symtab`, anything loaded after it) is left as linked, and so is the
/// file when the rewrite cannot be written.
pub fn drop_imports_from_symtab(exe: &Path) {
    let Ok(data) = std::fs::read(exe) else { return };
    let Some(out) = elf_without_imports(&data) else { return };
    let Some(name) = exe.file_name() else { return };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".symtab-{}.tmp", std::process::id()));
    let tmp = exe.with_file_name(tmp_name);
    let written = std::fs::write(&tmp, &out).is_ok()
        && std::fs::metadata(exe).and_then(|m| std::fs::set_permissions(&tmp, m.permissions())).is_ok()
        && std::fs::rename(&tmp, exe).is_ok();
    if !written {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// One ELF64 section header's fields that the rewrite reads or changes.
#[derive(Clone)]
struct Section {
    ty: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
}

/// A little-endian ELF64 file without the undefined entries of its `.symtab` (and their
/// names), or None when it has none or is not a file this rewrite knows to be safe for.
fn elf_without_imports(d: &[u8]) -> Option<Vec<u8>> {
    const SHT_SYMTAB: u32 = 2;
    const SHT_RELA: u32 = 4;
    const SHT_NOBITS: u32 = 8;
    const SHT_REL: u32 = 9;
    const SHT_GROUP: u32 = 17;
    const SHT_SYMTAB_SHNDX: u32 = 18;
    const SHF_ALLOC: u64 = 2;
    const SYM: usize = 24;
    let u16_at = |o: usize| Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?));
    if d.get(..6)? != b"\x7fELF\x02\x01" || u16_at(0x3A)? != 64 || u16_at(0x36)? != 56 {
        return None;
    }
    let (phoff, phnum) = (u64_at(0x20)? as usize, u16_at(0x38)? as usize);
    let (shoff, shnum, shstrndx) = (u64_at(0x28)? as usize, u16_at(0x3C)? as usize, u16_at(0x3E)? as usize);
    let mut sections = (0..shnum)
        .map(|i| {
            let h = shoff.checked_add(i * 64)?;
            Some(Section { ty: u32_at(h + 4)?, flags: u64_at(h + 8)?, offset: u64_at(h + 24)?, size: u64_at(h + 32)?, link: u32_at(h + 40)?, info: u32_at(h + 44)?, align: u64_at(h + 48)? })
        })
        .collect::<Option<Vec<_>>>()?;
    let symtab = sections.iter().position(|s| s.ty == SHT_SYMTAB)?;
    let strtab = sections[symtab].link as usize;
    // Nothing may refer to symbol indices (they change) or share the string table.
    let refers = |s: &Section| matches!(s.ty, SHT_REL | SHT_RELA | SHT_GROUP | SHT_SYMTAB_SHNDX) && s.link as usize == symtab;
    if sections.iter().any(refers) || strtab == shstrndx || strtab >= shnum || strtab == symtab || sections.iter().filter(|s| s.ty == SHT_SYMTAB).count() != 1 {
        return None;
    }
    // Only what comes after both tables is laid out again: it must all be unloaded.
    let tail = sections[symtab].offset.min(sections[strtab].offset) as usize;
    let moved = |s: &Section| s.ty != SHT_NOBITS && s.offset as usize >= tail;
    if shoff < tail || tail > d.len() || sections.iter().any(|s| moved(s) && s.flags & SHF_ALLOC != 0) {
        return None;
    }
    for i in 0..phnum {
        let h = phoff.checked_add(i * 56)?;
        if u64_at(h + 8)?.checked_add(u64_at(h + 32)?)? as usize > tail {
            return None;
        }
    }
    let section_bytes = |s: &Section| d.get(s.offset as usize..(s.offset as usize).checked_add(s.size as usize)?);
    let (old_syms, old_names) = (section_bytes(&sections[symtab])?, section_bytes(&sections[strtab])?);
    if old_syms.len() % SYM != 0 {
        return None;
    }
    let name_at = |o: usize| old_names.get(o..).and_then(|n| n.split(|&b| b == 0).next());
    let (mut syms, mut names) = (old_syms.get(..SYM)?.to_vec(), vec![0u8]);
    let mut placed: std::collections::HashMap<&[u8], u32> = std::collections::HashMap::new();
    let mut dropped = 0;
    for (i, sym) in old_syms.chunks(SYM).enumerate().skip(1) {
        if u16::from_le_bytes([sym[6], sym[7]]) == 0 {
            // An undefined local would shift the locals' count (`sh_info`): not seen from ld.
            if i < sections[symtab].info as usize {
                return None;
            }
            dropped += 1;
            continue;
        }
        let name = name_at(u32::from_le_bytes(sym[..4].try_into().ok()?) as usize)?;
        let at = match (name.is_empty(), placed.get(name)) {
            (true, _) => 0,
            (false, Some(&at)) => at,
            (false, None) => {
                let at = names.len() as u32;
                names.extend_from_slice(name);
                names.push(0);
                placed.insert(name, at);
                at
            }
        };
        syms.extend_from_slice(&at.to_le_bytes());
        syms.extend_from_slice(&sym[4..]);
    }
    if dropped == 0 {
        return None;
    }
    let mut out = d[..tail].to_vec();
    let mut order: Vec<usize> = (0..shnum).filter(|&i| moved(&sections[i])).collect();
    order.sort_by_key(|&i| sections[i].offset);
    for i in order {
        let align = sections[i].align.max(1) as usize;
        out.resize(out.len().div_ceil(align) * align, 0);
        let bytes = match i {
            _ if i == symtab => syms.clone(),
            _ if i == strtab => names.clone(),
            _ => section_bytes(&sections[i])?.to_vec(),
        };
        sections[i].offset = out.len() as u64;
        sections[i].size = bytes.len() as u64;
        out.extend_from_slice(&bytes);
    }
    out.resize(out.len().div_ceil(8) * 8, 0);
    let new_shoff = out.len();
    for (i, s) in sections.iter().enumerate() {
        let mut h = d.get(shoff + i * 64..shoff + i * 64 + 64)?.to_vec();
        h[24..32].copy_from_slice(&s.offset.to_le_bytes());
        h[32..40].copy_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&h);
    }
    out[0x28..0x30].copy_from_slice(&(new_shoff as u64).to_le_bytes());
    Some(out)
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
        // gold's own prefix ("ld.gold: fatal error: ...").
        .map(|m| m.strip_prefix("fatal error: ").or_else(|| m.strip_prefix("error: ")).unwrap_or(m))
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
