//! Running the linker itself instead of the C compiler driver that would run it: `cc` starts
//! `collect2`, which starts `ld.gold` with the LTO plugin loaded, three processes where one
//! does the work. The driver is asked once (`-###`) for the linker's command line with
//! placeholder inputs and output; the answer is kept in `<cache>/toolchain/` under the
//! driver's identity, the arguments and the environment the driver reads (`PATH` among it),
//! and each link fills in the placeholders. A link this way that fails is linked again
//! through the driver, whose result counts: a stale command line (a library moved, a libm
//! that gained a function) costs time, never a build.
//!
//! 10k lines, `-g0` (4 objects and the runtime archive), callgrind: the link ran 35.6 M
//! instructions in `cc`, `collect2` and gold; now 20.5 M in gold (sha1 -> md5 build ID:
//! -3.9 M, no libm: -5 M, no folder listing and no plugin: the rest) and 0.9 M in truk
//! reading the inputs' symbols for libm. The link stage's CPU (`TRUK_TIMINGS`, children
//! included; 15 alternated runs): 19.0 -> 9.8 ms; a 4-line program's whole build: 31 -> 23 ms.

use std::path::{Path, PathBuf};

use super::tools;

/// Stand-ins in the driver's answer for the objects and the output.
const OBJECTS: &str = "/truk-link-template/objects.o";
const OUTPUT: &str = "/truk-link-template/output";
/// The prefix of a template's arguments that `-lm` became.
const LIBM: &str = "libm:";

/// A linker command line for `objects` into `out`, as `driver` would run it with `args`
/// (`pre` before the objects, `post` after `-o OUT`), or None when it cannot be known or
/// names a file that is missing (the caller then runs the driver).
pub fn command(driver: &str, pre: &[&str], post: &[&str], objects: &[PathBuf], out: &Path) -> Option<Vec<String>> {
    let template = template(driver, pre, post)?;
    let mut lines = template.lines();
    let libm_names: Vec<&str> = lines.next()?.split(' ').filter(|n| !n.is_empty()).collect();
    // libm is read (all of its dynamic symbols) only when something links a function of it.
    let libm = libm_names.is_empty() || needs_any(objects, &libm_names);
    let mut argv = vec![];
    for line in lines {
        let (for_libm, arg) = line.strip_prefix(LIBM).map_or((line == "-lm", line), |a| (true, a));
        if for_libm && !libm {
            continue;
        }
        match arg {
            OBJECTS => argv.extend(objects.iter().map(|o| o.to_string_lossy().into_owned())),
            OUTPUT => argv.push(out.to_string_lossy().into_owned()),
            // The C toolchain's own objects and archives must still be where they were.
            _ if arg.starts_with('/') && (arg.ends_with(".o") || arg.ends_with(".a")) && !Path::new(arg).is_file() => return None,
            _ => argv.push(arg.to_string()),
        }
    }
    Path::new(argv.first()?).is_file().then_some(argv)
}

/// The cached template: a first line of the names libm defines (empty when unknown), then the
/// linker's arguments, one a line, with [`OBJECTS`] and [`OUTPUT`] standing for the inputs.
fn template(driver: &str, pre: &[&str], post: &[&str]) -> Option<String> {
    let driver_path = tools::which(driver)?;
    let env: Vec<String> = ["COMPILER_PATH", "LIBRARY_PATH", "GCC_EXEC_PREFIX", "PATH"]
        .iter()
        .map(|k| format!("{k}={}", std::env::var(k).unwrap_or_default()))
        .collect();
    let key = format!("truk-ld-v4\n{}\n{pre:?}\n{post:?}\n{}", tools::file_identity(&driver_path)?, env.join("\n"));
    super::runtime::toolchain_cached(&key, || ask_driver(driver, pre, post))
}

/// The driver's link command with placeholders (`-###` runs nothing), with the linker that
/// `collect2` would start in its place, and without what only LTO needs (the plugin).
fn ask_driver(driver: &str, pre: &[&str], post: &[&str]) -> Option<String> {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(driver).args(args).env("LC_ALL", "C").stdin(std::process::Stdio::null()).output().ok()?;
        o.status.success().then(|| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    let mut args = vec!["-###"];
    args.extend_from_slice(pre);
    args.extend_from_slice(&[OBJECTS, "-o", OUTPUT]);
    args.extend_from_slice(post);
    let said = run(&args)?;
    let mut argv = said.lines().map(split_quoted).find(|a| a.iter().any(|x| x == OBJECTS) && a.iter().any(|x| x == OUTPUT))?;
    if argv.first().is_some_and(|p| p.ends_with("/collect2")) {
        let fuse = argv.iter().find_map(|a| a.strip_prefix("-fuse-ld=")).map(|l| format!("ld.{l}"));
        let name = fuse.as_deref().unwrap_or("ld");
        let found = run(&[&format!("-print-prog-name={name}")])?.trim().to_string();
        let linker = if found.contains('/') { PathBuf::from(found) } else { tools::which(&found)? };
        argv[0] = linker.to_str()?.to_string();
        let mut kept = vec![];
        let mut skip = false;
        for a in argv {
            if std::mem::take(&mut skip) {
                continue;
            }
            skip = a == "-plugin";
            if !skip && !a.starts_with("-plugin-opt=") && !a.starts_with("-fuse-ld=") {
                kept.push(a);
            }
        }
        argv = kept;
    }
    if argv.iter().any(|a| a.contains('\n') || a.is_empty()) || argv.iter().any(|a| a.starts_with("-plugin")) {
        return None;
    }
    let argv = by_path(&argv).unwrap_or(argv);
    let libm = run(&["-print-file-name=libm.so.6"]).map(|p| p.trim().to_string()).filter(|p| p.starts_with('/'));
    let names = libm.and_then(|p| std::fs::read(p).ok()).map(|d| dynamic_names(&d)).unwrap_or_default();
    Some(format!("{}\n{}\n", names.join(" "), argv.join("\n")))
}

/// `argv` with each library (`-lNAME`) named by its path and without the search folders
/// (`-L`) or its built-in ones (`-nostdlib`), as the linker would find them: gold lists
/// every search folder before it looks for a library (`/usr/lib/x86_64-linux-gnu` has over
/// 1,000 entries), a quarter of its time at 10k lines (perf stat: 10.8 -> 9.2 ms without
/// `-L`, about 8.6 -> 7.4 with `-nostdlib` too; the binary is the same). A linker script that names libraries without a path (`libgcc_s.so`: `GROUP
/// ( libgcc_s.so.1 -lgcc )`) is replaced by what it names, found the same way. None when the
/// command line has anything that changes the search (`-Bstatic`, a sysroot, `-L DIR`), a
/// library is not found, or a script says more than `GROUP`, `INPUT` and `AS_NEEDED`.
fn by_path(argv: &[String]) -> Option<Vec<String>> {
    let dirs: Vec<&str> = argv.iter().filter_map(|a| a.strip_prefix("-L")).collect();
    let changes_search = |a: &String| {
        matches!(a.as_str(), "-L" | "-Bstatic" | "-static" | "-dn" | "-non_shared" | "-T" | "-l" | "--library" | "--library-path")
            || (a.starts_with("--sysroot=") && a != "--sysroot=/")
    };
    if dirs.iter().any(|d| d.is_empty() || !d.starts_with('/')) || argv.iter().any(changes_search) {
        return None;
    }
    let find = |file: &str| dirs.iter().map(|d| Path::new(d).join(file)).find(|p| p.is_file());
    let library = |name: &str| find(&format!("lib{name}.so")).or_else(|| find(&format!("lib{name}.a")));
    let mut out = vec![];
    for a in argv {
        if a.starts_with("-L") {
            continue;
        }
        let Some(name) = a.strip_prefix("-l") else {
            out.push(a.clone());
            continue;
        };
        let path = library(name)?;
        let data = std::fs::read(&path).ok()?;
        let searched = std::cell::Cell::new(false);
        let args = if data.starts_with(b"\x7fELF") || data.starts_with(b"!<arch>\n") {
            vec![path.to_str()?.to_string()]
        } else {
            let inputs = script_inputs(
                std::str::from_utf8(&data).ok()?,
                &|f| find(f).inspect(|_| searched.set(true)),
                &|l| library(l).inspect(|_| searched.set(true)),
            )?;
            // A script of absolute paths alone is as good as its path.
            if searched.get() { inputs } else { vec![path.to_str()?.to_string()] }
        };
        let mark = if name == "m" { LIBM } else { "" };
        out.extend(args.into_iter().map(|a| format!("{mark}{a}")));
    }
    // Nor its built-in folders (`/lib`, `/usr/lib`...), which it would list too.
    out.insert(1, "-nostdlib".to_string());
    Some(out)
}

/// The inputs of a linker script of `GROUP`/`INPUT`/`AS_NEEDED` (and `OUTPUT_FORMAT`, which
/// the command line's `-m` already says) as command-line arguments, each file by its path:
/// one found by `find` (relative) or `library` (`-lNAME`), or as written (absolute).
fn script_inputs(text: &str, find: &dyn Fn(&str) -> Option<PathBuf>, library: &dyn Fn(&str) -> Option<PathBuf>) -> Option<Vec<String>> {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("/*") {
        plain.push_str(&rest[..at]);
        rest = &rest[at + 2..][rest[at + 2..].find("*/")? + 2..];
    }
    plain.push_str(rest);
    let spaced = plain.replace('(', " ( ").replace(')', " ) ").replace(',', " ");
    let mut words = spaced.split_whitespace().peekable();
    let mut out = vec![];
    // What each open parenthesis closes with.
    let mut closers: Vec<Option<&str>> = vec![];
    while let Some(w) = words.next() {
        match w {
            "OUTPUT_FORMAT" => {
                (words.next()? == "(").then_some(())?;
                while words.next()? != ")" {}
            }
            "GROUP" | "INPUT" | "AS_NEEDED" => {
                (words.next()? == "(").then_some(())?;
                let (open, close) = match w {
                    "GROUP" => (Some("--start-group"), Some("--end-group")),
                    "AS_NEEDED" => (Some("--push-state --as-needed"), Some("--pop-state")),
                    _ => (None, None),
                };
                out.extend(open.into_iter().flat_map(|o| o.split(' ')).map(str::to_string));
                closers.push(close);
            }
            ")" => out.extend(closers.pop()?.into_iter().flat_map(|c| c.split(' ')).map(str::to_string)),
            _ if w.starts_with('/') => out.push(w.to_string()),
            _ if w.starts_with("-l") => out.push(library(&w[2..])?.to_str()?.to_string()),
            _ if w.chars().all(|c| c.is_alphanumeric() || "._+-".contains(c)) => out.push(find(w)?.to_str()?.to_string()),
            _ => return None,
        }
    }
    closers.is_empty().then_some(out)
}

/// One line of `-###` output as arguments: words, or double-quoted with `\` escapes.
fn split_quoted(line: &str) -> Vec<String> {
    let mut args = vec![];
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { return args };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => arg.extend(chars.next()),
                    _ => arg.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                arg.push(c);
            }
        }
        args.push(arg);
    }
}

/// The defined dynamic symbols of a shared library, by name.
fn dynamic_names(data: &[u8]) -> Vec<String> {
    use object::{Object, ObjectSymbol, SymbolSection};
    let Ok(file) = object::File::parse(data) else { return vec![] };
    let mut names: Vec<String> = file
        .dynamic_symbols()
        // Version names (`GLIBC_2.2.5`) are absolute symbols.
        .filter(|s| !s.is_undefined() && s.section() != SymbolSection::Absolute)
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty() && !n.contains(' ')).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether an object among `inputs` (or a member of an archive among them) refers to one of
/// `names` (sorted), or an input cannot be read (then it may).
fn needs_any(inputs: &[PathBuf], names: &[&str]) -> bool {
    use object::read::archive::ArchiveFile;
    use object::{Object, ObjectSymbol};
    let refers = |data: &[u8]| match object::File::parse(data) {
        Ok(f) => f.symbols().any(|s| s.is_undefined() && s.name().is_ok_and(|n| names.binary_search(&n).is_ok())),
        Err(_) => true,
    };
    inputs.iter().any(|path| {
        let Ok(data) = std::fs::read(path) else { return true };
        match ArchiveFile::parse(&*data) {
            Ok(archive) => archive.members().any(|m| m.ok().and_then(|m| m.data(&*data).ok()).is_none_or(refers)),
            Err(_) => refers(&data),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{script_inputs, split_quoted};
    use std::path::PathBuf;

    #[test]
    fn linker_scripts_become_their_inputs() {
        let find = |f: &str| Some(PathBuf::from(format!("/d/{f}")));
        let lib = |n: &str| Some(PathBuf::from(format!("/d/lib{n}.a")));
        let libc = "/* GNU ld script\n */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /l/libc.so.6 /u/libc_nonshared.a  AS_NEEDED ( /l/ld.so.2 ) )\n";
        assert_eq!(
            script_inputs(libc, &find, &lib).unwrap(),
            ["--start-group", "/l/libc.so.6", "/u/libc_nonshared.a", "--push-state", "--as-needed", "/l/ld.so.2", "--pop-state", "--end-group"]
        );
        let gcc_s = "/* GNU ld script\n   Use the shared library.  */\nGROUP ( libgcc_s.so.1 -lgcc )\n";
        assert_eq!(script_inputs(gcc_s, &find, &lib).unwrap(), ["--start-group", "/d/libgcc_s.so.1", "/d/libgcc.a", "--end-group"]);
        assert_eq!(script_inputs("SEARCH_DIR(/x) GROUP ( a )", &find, &lib), None);
        assert_eq!(script_inputs("GROUP ( a ", &find, &lib), None);
    }

    #[test]
    fn driver_lines_split_as_the_driver_quoted_them() {
        let line = r#" /usr/lib/gcc/x/collect2 -plugin /p.so "-plugin-opt=-fresolution=/tmp/a.res" "--hash-style=gnu" "a \"b\" c\\d" -o out"#;
        assert_eq!(
            split_quoted(line),
            ["/usr/lib/gcc/x/collect2", "-plugin", "/p.so", "-plugin-opt=-fresolution=/tmp/a.res", "--hash-style=gnu", "a \"b\" c\\d", "-o", "out"]
        );
    }
}
