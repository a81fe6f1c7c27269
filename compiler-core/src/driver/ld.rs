//! Running the linker itself instead of the C compiler driver that would run it: `cc` starts
//! `collect2`, which starts `ld.gold` with the LTO plugin loaded, three processes where one
//! does the work. The driver is asked once (`-###`) for the linker's command line with
//! placeholder inputs and output; the answer is kept in `<cache>/toolchain/` under the
//! identities of the driver and the linker, the arguments and the environment the driver
//! reads, and each link fills in the placeholders. A link this way that fails is linked again
//! through the driver, whose result counts: a stale command line costs time, never a build.
//!
//! 10k lines, `-g0` (4 objects and the runtime archive): a link of 16 ms through `cc`, 14 ms
//! this way (paired runs); callgrind counts in the linker alone 33.8 M instructions with
//! GNU ld's default sha1 build ID, 29.9 M with md5 (`link.rs`), 24.8 M without `-lm` when
//! nothing needs libm (reading its 1,163 dynamic symbols is the rest).

use std::path::{Path, PathBuf};

use super::tools;

/// Stand-ins in the driver's answer for the objects and the output.
const OBJECTS: &str = "/truk-link-template/objects.o";
const OUTPUT: &str = "/truk-link-template/output";

/// A linker command line for `objects` into `out`, as `driver` would run it with `args`
/// (`pre` before the objects, `post` after `-o OUT`), or None when it cannot be known or
/// names a file that is missing (the caller then runs the driver).
pub fn command(driver: &str, pre: &[&str], post: &[&str], objects: &[PathBuf], out: &Path) -> Option<Vec<String>> {
    let template = template(driver, pre, post)?;
    let mut lines = template.lines();
    let libm_names: Vec<&str> = lines.next()?.split(' ').filter(|n| !n.is_empty()).collect();
    let mut argv = vec![];
    for arg in lines {
        match arg {
            OBJECTS => argv.extend(objects.iter().map(|o| o.to_string_lossy().into_owned())),
            OUTPUT => argv.push(out.to_string_lossy().into_owned()),
            // The C toolchain's own objects (crt files) must still be where they were.
            _ if arg.starts_with('/') && arg.ends_with(".o") && !Path::new(arg).is_file() => return None,
            _ => argv.push(arg.to_string()),
        }
    }
    if !Path::new(argv.first()?).is_file() {
        return None;
    }
    // libm is read (all of its dynamic symbols) only when something links a function of it.
    if !libm_names.is_empty() && !needs_any(objects, &libm_names) {
        argv.retain(|a| a != "-lm");
    }
    Some(argv)
}

/// The cached template: a first line of the names libm defines (empty when unknown), then the
/// linker's arguments, one a line, with [`OBJECTS`] and [`OUTPUT`] standing for the inputs.
fn template(driver: &str, pre: &[&str], post: &[&str]) -> Option<String> {
    let driver_path = tools::which(driver)?;
    let env: Vec<String> = ["COMPILER_PATH", "LIBRARY_PATH", "GCC_EXEC_PREFIX", "PATH"]
        .iter()
        .map(|k| format!("{k}={}", std::env::var(k).unwrap_or_default()))
        .collect();
    let key = format!("truk-ld-v2\n{}\n{pre:?}\n{post:?}\n{}", tools::file_identity(&driver_path)?, env.join("\n"));
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
    let libm = run(&["-print-file-name=libm.so.6"]).map(|p| p.trim().to_string()).filter(|p| p.starts_with('/'));
    let names = libm.and_then(|p| std::fs::read(p).ok()).map(|d| dynamic_names(&d)).unwrap_or_default();
    Some(format!("{}\n{}\n", names.join(" "), argv.join("\n")))
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
    use super::split_quoted;

    #[test]
    fn driver_lines_split_as_the_driver_quoted_them() {
        let line = r#" /usr/lib/gcc/x/collect2 -plugin /p.so "-plugin-opt=-fresolution=/tmp/a.res" "--hash-style=gnu" "a \"b\" c\\d" -o out"#;
        assert_eq!(
            split_quoted(line),
            ["/usr/lib/gcc/x/collect2", "-plugin", "/p.so", "-plugin-opt=-fresolution=/tmp/a.res", "--hash-style=gnu", "a \"b\" c\\d", "-o", "out"]
        );
    }
}
