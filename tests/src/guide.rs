//! The code blocks of the Truk guide (`docs/language/*.md`), compiled and run.
//!
//! A block fenced with ```` ```truk ```` is a whole program; the block fenced with
//! ```` ```output ```` that follows it (before the next program) is its exact standard
//! output, and no such block means it prints nothing. Words after `truk` in the fence:
//!
//! - `exit=N`: the expected exit status (default 0).
//! - `test`: run with `truk test`; the output block need only be contained in stdout.
//! - `error`: must fail to compile; each line of the output block must appear in stderr.
//! - `file=NAME`: not run; written beside the next whole program (so it can import it, or
//!   read it). Any fenced block may carry it, whatever its language. NAME may name a
//!   subfolder (`geo/lib.truk`), never a place outside the program's folder.
//! - `args="a b"`: command-line arguments for the program.
//! - `stdin=NAME`: the program's standard input is the file NAME (from a `file=` block).
//!
//! Each program runs with a `TRUK_FLEET_NS` of its own; afterwards the processes that carry
//! it (copies the program spawned) are killed and its fleet region files removed.
//!
//! Blocks fenced with any other language are not run. A program is written as `main.truk`
//! in a folder of its own, so diagnostics in `error` blocks read `--> main.truk:L:C`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{exe_command, first_line, run, target_flags, wait_for, Out};

/// One program of the guide, with what it must do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    /// 1-based line of the opening fence in its Markdown file.
    pub line: usize,
    pub code: String,
    /// The following ```output block, if any.
    pub output: Option<String>,
    pub exit: i32,
    pub test: bool,
    pub error: bool,
    pub args: Vec<String>,
    pub stdin: Option<String>,
    /// `file=` blocks written beside this program: (name, text).
    pub files: Vec<(String, String)>,
}

/// The words of a fence's info string; a value may be quoted (`args="a b"`).
fn info_words(info: &str) -> Result<Vec<String>, String> {
    let mut words = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    for c in info.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("unclosed quote in `{info}`"));
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

/// The programs of one Markdown text. Errors name the line of the offending fence.
pub fn parse_blocks(md: &str) -> Result<Vec<Block>, String> {
    let mut blocks: Vec<Block> = vec![];
    let mut files: Vec<(String, String)> = vec![];
    // Whether the last program may still take an ```output block.
    let mut open = false;
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        let Some(info) = t.strip_prefix("```") else { continue };
        let fence: String = t.chars().take_while(|&c| c == '`').collect();
        let info = info.trim_start_matches('`');
        let at = i + 1;
        let mut body = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with(fence.as_str()) && l.trim().trim_start_matches('`').is_empty() {
                closed = true;
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if !closed {
            return Err(format!("line {at}: unclosed code block"));
        }
        let words = info_words(info).map_err(|e| format!("line {at}: {e}"))?;
        let lang = words.first().map(String::as_str).unwrap_or("");
        let file = words.iter().find_map(|w| w.strip_prefix("file="));
        if let Some(name) = file {
            let outside = name.starts_with('/') || name.split('/').any(|c| c.is_empty() || c == "..");
            if outside || name == "main.truk" {
                return Err(format!("line {at}: bad file name `{name}`"));
            }
            files.push((name.to_string(), body));
            continue;
        }
        match lang {
            "output" => {
                if !open {
                    return Err(format!("line {at}: an output block must follow a truk block"));
                }
                open = false;
                blocks.last_mut().unwrap().output = Some(body);
            }
            "truk" => {
                let mut b = Block { line: at, code: body, files: std::mem::take(&mut files), ..Block::default() };
                for w in &words[1..] {
                    let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
                    match k {
                        "exit" => b.exit = v.parse().map_err(|_| format!("line {at}: bad `{w}`"))?,
                        "test" => b.test = true,
                        "error" => b.error = true,
                        "args" => b.args = v.split_whitespace().map(String::from).collect(),
                        "stdin" => b.stdin = Some(v.to_string()),
                        _ => return Err(format!("line {at}: unknown word `{w}` after truk")),
                    }
                }
                if b.error && (b.test || b.exit != 0) {
                    return Err(format!("line {at}: `error` with `test` or `exit`"));
                }
                blocks.push(b);
                open = true;
            }
            _ => {}
        }
    }
    if let Some((name, _)) = files.first() {
        return Err(format!("`file={name}` is followed by no program"));
    }
    for b in &blocks {
        if b.error && b.output.is_none() {
            return Err(format!("line {}: an `error` block needs an output block of what stderr shows", b.line));
        }
        if let Some(s) = &b.stdin {
            if !b.files.iter().any(|(n, _)| n == s) {
                return Err(format!("line {}: `stdin={s}` names no file= block before it", b.line));
            }
        }
    }
    Ok(blocks)
}

/// Remove the fleet region files of namespace `ns` (a program that used a fleet).
fn remove_regions(ns: &str) {
    let suffix = format!("-{ns}");
    for e in std::fs::read_dir("/dev/shm").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("truk-") && name.ends_with(&suffix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Run `cmd` with `stdin`, its outputs going to files in `dir` (not pipes, which copies it
/// left running would hold open), killing it after `timeout`.
fn run_to_files(cmd: &mut Command, stdin: Stdio, dir: &Path, timeout: Duration) -> Out {
    let (out_path, err_path) = (dir.join(".stdout"), dir.join(".stderr"));
    let files = std::fs::File::create(&out_path).and_then(|o| Ok((o, std::fs::File::create(&err_path)?)));
    let child = files.and_then(|(o, e)| cmd.stdin(stdin).stdout(o).stderr(e).spawn());
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Out { code: None, stdout: String::new(), stderr: format!("cannot start: {e}"), timed_out: false },
    };
    let (code, timed_out) = wait_for(&mut child, timeout);
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Out { code, stdout: read(&out_path), stderr: read(&err_path), timed_out }
}

/// Kill the processes a block left running (copies it spawned and did not wait for, or a
/// program that timed out): they carry the block's own `TRUK_FLEET_NS` in their environment.
/// A SIGKILL takes effect asynchronously, and a copy may be spawning another: scan again
/// until none is left (a dead process's environment reads empty), for at most 10 s.
fn kill_leftovers(ns: &str) {
    let mark = format!("TRUK_FLEET_NS={ns}");
    for _ in 0..1000 {
        let mut left = false;
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(env) = std::fs::read(e.path().join("environ")) else { continue };
            if env.split(|&b| b == 0).any(|v| v == mark.as_bytes()) {
                left = true;
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
            }
        }
        if !left {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Compile and run one block with `truk` for `target` in the empty scratch folder `dir`.
/// `ns` is the block's own fleet namespace; its region files are removed afterwards.
pub fn check_block(truk: &Path, b: &Block, dir: &Path, target: Option<&str>, ns: &str) -> Result<(), String> {
    for (name, text) in &b.files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| format!("cannot create the folder of {name}: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    std::fs::write(dir.join("main.truk"), &b.code).map_err(|e| format!("cannot write main.truk: {e}"))?;
    let tflags = target_flags(target);
    let limit = Duration::from_secs(120);
    let input = |cmd: &mut Command| -> Result<Stdio, String> {
        cmd.current_dir(dir).env("TRUK_FLEET_NS", ns);
        match &b.stdin {
            Some(s) => std::fs::File::open(dir.join(s)).map(Stdio::from).map_err(|e| format!("cannot open {s}: {e}")),
            None => Ok(Stdio::null()),
        }
    };
    let result = (|| {
        let o = if b.test {
            let mut cmd = Command::new(truk);
            cmd.arg("test").args(&tflags).arg("main.truk");
            let i = input(&mut cmd)?;
            run_to_files(&mut cmd, i, dir, limit)
        } else {
            let mut cmd = Command::new(truk);
            cmd.arg("build").args(&tflags).arg("main.truk").arg("-o").arg("prog");
            let o = run(cmd.current_dir(dir), limit);
            if o.stderr.contains("panicked at") {
                return Err(format!("compiler crashed: {}", first_line(&o.stderr)));
            }
            if b.error {
                if o.code == Some(0) {
                    return Err("compiled, but the block must be rejected".into());
                }
                let want = b.output.as_deref().unwrap_or("");
                let missing: Vec<&str> = want.lines().filter(|l| !o.stderr.contains(l.trim_end())).collect();
                if !missing.is_empty() {
                    return Err(format!("stderr lacks {missing:?}\n--- stderr ---\n{}", o.stderr));
                }
                return Ok(());
            }
            if o.code != Some(0) {
                return Err(format!("does not compile:\n{}", o.stderr));
            }
            let mut cmd = exe_command(&dir.join("prog"), target);
            cmd.args(&b.args);
            let i = input(&mut cmd)?;
            run_to_files(&mut cmd, i, dir, Duration::from_secs(30))
        };
        if o.timed_out {
            return Err("timed out".into());
        }
        if o.code != Some(b.exit) {
            return Err(format!("exit status {:?}, expected {}\n--- stdout ---\n{}--- stderr ---\n{}", o.code, b.exit, o.stdout, o.stderr));
        }
        let want = b.output.as_deref().unwrap_or("");
        let ok = if b.test { o.stdout.contains(want) } else { o.stdout == want };
        if !ok {
            let how = if b.test { "stdout contains" } else { "stdout is" };
            return Err(format!("expected {how}:\n{want}--- actual stdout ---\n{}--- stderr ---\n{}", o.stdout, o.stderr));
        }
        Ok(())
    })();
    kill_leftovers(ns);
    remove_regions(ns);
    result
}

/// The Markdown files the guide runner reads: `docs/language/*.md`, and `docs/fleets.md`
/// (which has no ```truk blocks today, so nothing of it runs), sorted.
pub fn guide_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("docs/language"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    out.sort();
    out.push(root.join("docs/fleets.md"));
    out
}
