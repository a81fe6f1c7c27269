//! The per-feature Truk programs under `tests/lang/<feature>/`.
//!
//! Every `.truk` file directly inside a feature folder is a case; files in deeper folders
//! are helpers it imports. A case states what must happen in `//` comment lines:
//!
//! - `// expect-exit: N`: builds, runs, exits with N (0 when only output is stated).
//! - `// expect-stdout: TEXT`: one line of the exact standard output (repeat for more lines).
//! - `// expect-stdout-has: TEXT` / `// expect-stderr-has: TEXT`: the output contains TEXT.
//! - `// expect-error: LINE: TEXT`: rejected at compile time with a diagnostic that points
//!   at LINE of this file and whose text contains TEXT; no binary is left behind.
//! - `// expect-warning: LINE: TEXT`: the build warns at LINE with a message containing
//!   TEXT (repeat for more); a warning no such line expects fails the case.
//! - `// flags: ARGS`: extra arguments for `truk build` (or `truk test`), such as `-I inc`;
//!   relative paths are relative to the case's folder.
//! - `// command: test [PATH]`: run `truk test` on this file (or on PATH, a folder or file
//!   relative to the case's folder) instead of building and running it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{exe_command, first_line, run, target_flags};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub exit: Option<i32>,
    pub stdout: Option<String>,
    pub stdout_has: Vec<String>,
    pub stderr_has: Vec<String>,
    /// Line and message fragment of the expected compile error.
    pub error: Option<(usize, String)>,
    /// Line and message fragment of each expected warning.
    pub warnings: Vec<(usize, String)>,
    pub flags: Vec<String>,
    /// `Some(path)` for `truk test`: the path to test, relative to the case's folder.
    pub test_path: Option<String>,
}

/// Read the expectations in the comment lines of a program.
pub fn parse_spec(text: &str, file_name: &str) -> Result<Spec, String> {
    let mut s = Spec::default();
    let mut any = false;
    for line in text.lines() {
        let Some(c) = line.trim_start().strip_prefix("//") else { continue };
        let Some((key, value)) = c.trim_start().split_once(':') else { continue };
        let value = value.strip_prefix(' ').unwrap_or(value);
        let key = key.trim();
        match key {
            "expect-exit" => s.exit = Some(value.trim().parse().map_err(|_| format!("bad expect-exit `{value}`"))?),
            "expect-stdout" => s.stdout.get_or_insert_with(String::new).push_str(&format!("{value}\n")),
            "expect-stdout-has" => s.stdout_has.push(value.to_string()),
            "expect-stderr-has" => s.stderr_has.push(value.to_string()),
            "expect-error" => {
                let (l, msg) = value.split_once(':').ok_or(format!("expect-error wants `LINE: TEXT`, got `{value}`"))?;
                let l = l.trim().parse().map_err(|_| format!("bad line in expect-error `{value}`"))?;
                s.error = Some((l, msg.trim().to_string()));
            }
            "expect-warning" => {
                let (l, msg) = value.split_once(':').ok_or(format!("expect-warning wants `LINE: TEXT`, got `{value}`"))?;
                let l = l.trim().parse().map_err(|_| format!("bad line in expect-warning `{value}`"))?;
                s.warnings.push((l, msg.trim().to_string()));
            }
            "flags" => s.flags.extend(value.split_whitespace().map(String::from)),
            "command" => {
                let mut words = value.split_whitespace();
                if words.next() != Some("test") {
                    return Err(format!("unknown command `{value}`"));
                }
                s.test_path = Some(words.next().unwrap_or(file_name).to_string());
            }
            _ => continue,
        }
        any = true;
    }
    if !any || (s.exit.is_none() && s.stdout.is_none() && s.error.is_none() && s.test_path.is_none()) {
        return Err("states no expectation (expect-exit, expect-stdout, expect-error or command)".into());
    }
    if s.error.is_some() && (s.exit.is_some() || s.stdout.is_some()) {
        return Err("expects both a compile error and a run".into());
    }
    Ok(s)
}

/// The case files: `.truk` files directly inside each folder of `root`, sorted.
pub fn collect(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for dir in std::fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        for f in std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()) {
            if f.is_file() && f.extension().is_some_and(|e| e == "truk") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

/// Build (or test) one case with `truk` for `target` (the host when `None`) in the scratch
/// folder `dir` and check it.
pub fn check_case(truk: &Path, case: &Path, dir: &Path, target: Option<&str>) -> Result<(), String> {
    let text = std::fs::read_to_string(case).map_err(|e| format!("cannot read: {e}"))?;
    let file = case.file_name().unwrap().to_string_lossy().to_string();
    let spec = parse_spec(&text, &file)?;
    let folder = case.parent().unwrap();
    let limit = Duration::from_secs(120);
    let tflags = target_flags(target);
    if let Some(path) = &spec.test_path {
        let o = run(Command::new(truk).arg("test").args(&tflags).args(&spec.flags).arg(path).current_dir(folder), limit);
        check_warnings(&spec, &file, &o.stderr)?;
        return check_outputs(&spec, o.code, &o.stdout, &o.stderr);
    }
    let exe = dir.join("prog");
    let _ = std::fs::remove_file(&exe);
    let o = run(Command::new(truk).arg("build").args(&tflags).args(&spec.flags).arg(&file).arg("-o").arg(&exe).current_dir(folder), limit);
    if o.stderr.contains("panicked at") {
        return Err(format!("compiler crashed: {}", first_line(&o.stderr)));
    }
    if let Some((line, msg)) = &spec.error {
        if o.code == Some(0) {
            return Err("compiled a program that must be rejected".into());
        }
        if exe.exists() {
            return Err("rejected, but left a binary".into());
        }
        let at = format!("{file}:{line}:");
        if !o.stderr.lines().any(|l| l.contains("-->") && l.contains(&at)) {
            return Err(format!("no diagnostic at {at}: {}", first_line(&o.stderr)));
        }
        if !o.stderr.contains(msg.as_str()) {
            return Err(format!("diagnostic lacks `{msg}`: {}", first_line(&o.stderr)));
        }
        if let Some(m) = spec.stderr_has.iter().find(|m| !o.stderr.contains(m.as_str())) {
            return Err(format!("stderr lacks {m:?}: {:?}", o.stderr));
        }
        return Ok(());
    }
    if o.code != Some(0) {
        return Err(format!("does not compile: {}", first_line(&o.stderr)));
    }
    check_warnings(&spec, &file, &o.stderr)?;
    let r = run(exe_command(&exe, target).current_dir(dir), Duration::from_secs(30));
    if r.timed_out {
        return Err("timed out".into());
    }
    check_outputs(&spec, r.code, &r.stdout, &r.stderr)
}

/// The warnings in a compiler's stderr: message and `-->` line.
pub fn warnings(stderr: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut out = vec![];
    for (i, l) in lines.iter().enumerate() {
        if let Some(msg) = l.strip_prefix("warning: ") {
            let at = lines.get(i + 1).filter(|n| n.contains("-->")).map_or("", |n| n.trim());
            out.push((msg.to_string(), at.to_string()));
        }
    }
    out
}

/// Every warning of the build is expected (`expect-warning`), and every expected one came.
fn check_warnings(spec: &Spec, file: &str, stderr: &str) -> Result<(), String> {
    let got = warnings(stderr);
    let at = |line: usize| format!("{file}:{line}:");
    for (msg, place) in &got {
        if !spec.warnings.iter().any(|(l, m)| place.contains(&at(*l)) && msg.contains(m.as_str())) {
            return Err(format!("unexpected warning at {place}: {msg}"));
        }
    }
    for (l, m) in &spec.warnings {
        if !got.iter().any(|(msg, place)| place.contains(&at(*l)) && msg.contains(m.as_str())) {
            return Err(format!("no warning at {} containing `{m}`", at(*l)));
        }
    }
    Ok(())
}

fn check_outputs(spec: &Spec, code: Option<i32>, stdout: &str, stderr: &str) -> Result<(), String> {
    let want = spec.exit.unwrap_or(0);
    if code != Some(want) {
        return Err(format!("exit status {code:?}, expected {want}: {}", first_line(&format!("{stderr}{stdout}"))));
    }
    if let Some(w) = &spec.stdout {
        if stdout != w {
            return Err(format!("stdout {stdout:?}, expected {w:?}"));
        }
    }
    if let Some(m) = spec.stdout_has.iter().find(|m| !stdout.contains(m.as_str())) {
        return Err(format!("stdout lacks {m:?}: {stdout:?}"));
    }
    if let Some(m) = spec.stderr_has.iter().find(|m| !stderr.contains(m.as_str())) {
        return Err(format!("stderr lacks {m:?}: {stderr:?}"));
    }
    Ok(())
}
