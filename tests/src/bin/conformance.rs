//! Runs the conformance corpus (`../shared/conformance` beside the project) against `truk`.
//!
//! Prints one line per failure and ends with the plain line `N passed, M failed`. Exits
//! non-zero only when the pass count is below the floor in `tests/conformance-floor`, or
//! when the compiler crashed on any file (a panic is never an acceptable answer).
//!
//! With a target (`--target TRIPLE` or `$TRUK_TARGET`), programs are built for it and run
//! under qemu-user when its architecture is not the host's; the floor applies to the host.
//!
//! Usage: conformance [--truk PATH] [--corpus DIR] [--filter SUBSTR] [--target TRIPLE] [--floor N] [--verbose]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use truk_tests::{exe_command, first_line, project_root, run, target_arg, target_flags, truk_binary, Out};

/// Programs whose expected exit status is not in their name, read by hand.
const READ_BY_HAND: &[(&str, Expect)] = &[
    ("run/each/truk_each_string_2_vowels.truk", Expect::Exit(5)),
    ("run/lambdas/test_simple.truk", Expect::Exit(7)),
    ("run/lambdas/test_invalid_break.truk", Expect::Reject(None)),
];

#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// Compile, run, exit with this status.
    Exit(i32),
    /// Compile, run, exit 0, print exactly this.
    Output(PathBuf),
    /// Be rejected at compile time, with a diagnostic at this line (if known).
    Reject(Option<usize>),
    /// `truk test FILE` passes.
    TestFw,
}

struct Case {
    path: PathBuf,
    /// Path relative to the corpus root, for messages.
    name: String,
    expect: Expect,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let verbose = args.iter().any(|a| a == "--verbose");
    let root = project_root();
    let corpus = flag("--corpus").map(PathBuf::from).unwrap_or_else(|| root.join("../shared/conformance"));
    if !corpus.is_dir() {
        println!("conformance: corpus not found at {} (skipped)", corpus.display());
        return;
    }
    let truk = flag("--truk").map(PathBuf::from).or_else(truk_binary).unwrap_or_else(|| PathBuf::from("truk"));
    if !truk.is_file() {
        eprintln!("conformance: no truk binary at {} (build it first: cargo build -p truk)", truk.display());
        std::process::exit(2);
    }
    let target = target_arg(&args);
    let mut cases = collect(&corpus);
    if let Some(f) = flag("--filter") {
        cases.retain(|c| c.name.contains(&f));
    }
    let scratch = std::env::temp_dir().join(format!("truk-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<Vec<String>, String>)>> = Mutex::new(vec![]);
    let started = Instant::now();
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::thread::scope(|s| {
        for w in 0..workers {
            let (cases, next, results, truk, scratch, target) = (&cases, &next, &results, &truk, &scratch, target.as_deref());
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = cases.get(i) else { break };
                let dir = scratch.join(format!("w{w}-{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                let r = run_case(truk, c, &dir, target);
                let _ = std::fs::remove_dir_all(&dir);
                results.lock().unwrap().push((c.name.clone(), r));
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut passed = 0;
    let mut crashes = 0;
    // The programs that may warn, and of what (`PROGRAM: KIND`); any other warning fails the run.
    let may_warn = std::fs::read_to_string(root.join("tests/conformance-warnings")).unwrap_or_default();
    let may_warn: Vec<(&str, &str)> = may_warn
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(p, k)| (p.trim(), k.trim())))
        .collect();
    let (mut warnings, mut unexpected) = (0, 0);
    for (name, r) in &results {
        match r {
            Ok(kinds) => {
                passed += 1;
                warnings += kinds.len();
                if let Some(k) = kinds.iter().find(|k| !may_warn.contains(&(name.as_str(), k.as_str()))) {
                    unexpected += 1;
                    println!("WARN {name}: a `{k}` warning, not allowed by tests/conformance-warnings");
                }
                if verbose {
                    println!("ok   {name}");
                }
            }
            Err(why) => {
                if why.starts_with("compiler crashed") {
                    crashes += 1;
                }
                println!("FAIL {name}: {why}");
            }
        }
    }
    let failed = results.len() - passed;
    let floor: usize = std::fs::read_to_string(root.join("tests/conformance-floor"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let on = target.as_deref().map(|t| format!(" for {t}")).unwrap_or_default();
    eprintln!("conformance: {} programs{on} in {:.1}s, floor {floor}, compiler crashes {crashes}", results.len(), started.elapsed().as_secs_f64());
    eprintln!("conformance: {warnings} warnings, {unexpected} programs warned unexpectedly");
    println!("{passed} passed, {failed} failed");
    // The file's floor counts the whole corpus on the host: a filtered or cross run states
    // its own with --floor.
    let floor = flag("--floor").and_then(|f| f.parse().ok()).unwrap_or(if target.is_some() || flag("--filter").is_some() { 0 } else { floor });
    if passed < floor || crashes > 0 || unexpected > 0 {
        let why = if crashes > 0 { "the compiler crashed" } else if unexpected > 0 { "unexpected warnings" } else { "below the floor" };
        eprintln!("conformance: FAILED ({why})");
        std::process::exit(1);
    }
}

fn collect(corpus: &Path) -> Vec<Case> {
    let mut out = vec![];
    let mut files = vec![];
    walk(corpus, &mut files);
    files.sort();
    for path in files {
        if path.extension().is_none_or(|e| e != "truk") {
            continue;
        }
        let name = path.strip_prefix(corpus).unwrap().to_string_lossy().replace('\\', "/");
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let kind = name.split('/').next().unwrap_or("");
        let expect = if let Some((_, e)) = READ_BY_HAND.iter().find(|(n, _)| *n == name) {
            e.clone()
        } else {
            match kind {
                "run" => {
                    if stem.contains("_error") {
                        Expect::Reject(None)
                    } else if let Some(n) = stem.rsplit('_').next().and_then(|n| n.parse::<i32>().ok()) {
                        Expect::Exit(n)
                    } else {
                        continue; // a helper module imported by other programs
                    }
                }
                "output" => Expect::Output(path.with_extension("expect")),
                "reject" => Expect::Reject(expected_line(&path.with_extension("expect"))),
                "testfw" => Expect::TestFw,
                _ => continue,
            }
        };
        out.push(Case { path, name, expect });
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// The line number of the first `--> file:LINE:COL` in an .expect file.
fn expected_line(expect: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(expect).ok()?;
    let arrow = text.lines().find(|l| l.trim_start().starts_with("-->"))?;
    let mut parts = arrow.trim().rsplit(':');
    let _col = parts.next()?;
    parts.next()?.parse().ok()
}

fn crashed(o: &Out) -> bool {
    o.stderr.contains("panicked at") || o.code.is_some_and(|c| c > 128)
}

/// The kind of each warning the compiler printed: `narrowing`, `unused` or `other`.
fn warnings(stderr: &str) -> Vec<String> {
    let kind = |m: &str| match m {
        _ if m.starts_with("narrowing") || m.starts_with("sign-changing") => "narrowing",
        _ if m.starts_with("unused variable") => "unused",
        _ => "other",
    };
    stderr.lines().filter_map(|l| l.strip_prefix("warning: ")).map(|m| kind(m).to_string()).collect()
}

/// Check one program; `Ok` holds the kinds of the warnings its build printed.
fn run_case(truk: &Path, c: &Case, dir: &Path, target: Option<&str>) -> Result<Vec<String>, String> {
    let folder = c.path.parent().unwrap();
    let tflags = target_flags(target);
    let exe = dir.join("prog");
    let compile = |extra: &[&str]| {
        let mut cmd = Command::new(truk);
        cmd.arg("build").args(&tflags).arg("-I").arg(folder).arg(&c.path).arg("-o").arg(&exe).args(extra).current_dir(dir);
        run(&mut cmd, Duration::from_secs(60))
    };
    match &c.expect {
        Expect::Reject(line) => {
            let o = compile(&[]);
            if crashed(&o) {
                return Err(format!("compiler crashed: {}", first_line(&o.stderr)));
            }
            if o.code == Some(0) {
                return Err("accepted a program that must be rejected".into());
            }
            if exe.exists() {
                return Err("rejected, but left a binary".into());
            }
            let file = c.path.file_name().unwrap().to_string_lossy().to_string();
            let want = line.map(|l| format!("{file}:{l}:"));
            let ok = o.stderr.lines().any(|l| {
                l.contains("-->") && l.contains(&file) && want.as_ref().is_none_or(|w| l.contains(w.as_str()))
            });
            if !ok {
                return Err(format!("wrong or missing diagnostic (want line {line:?}): {}", first_line(&o.stderr)));
            }
            Ok(vec![])
        }
        Expect::TestFw => {
            let mut cmd = Command::new(truk);
            cmd.arg("test").args(&tflags).arg("-I").arg(folder).arg(&c.path).current_dir(dir);
            let o = run(&mut cmd, Duration::from_secs(60));
            if crashed(&o) && o.stderr.contains("panicked at") {
                return Err(format!("compiler crashed: {}", first_line(&o.stderr)));
            }
            if o.code != Some(0) {
                return Err(format!("truk test exited {:?}: {}", o.code, first_line(&(o.stderr + &o.stdout))));
            }
            Ok(warnings(&o.stderr))
        }
        Expect::Exit(_) | Expect::Output(_) => {
            let o = compile(&[]);
            if crashed(&o) {
                return Err(format!("compiler crashed: {}", first_line(&o.stderr)));
            }
            if o.code != Some(0) {
                return Err(format!("does not compile: {}", first_line(&o.stderr)));
            }
            let r = run(exe_command(&exe, target).current_dir(dir), Duration::from_secs(20));
            if r.timed_out {
                return Err("timed out".into());
            }
            match &c.expect {
                Expect::Exit(n) => {
                    let want = n & 0xff;
                    if r.code != Some(want) {
                        return Err(format!("exit status {:?}, expected {want} {}", r.code, first_line(&r.stderr)));
                    }
                }
                Expect::Output(p) => {
                    let want = std::fs::read_to_string(p).unwrap_or_default();
                    if r.code != Some(0) {
                        return Err(format!("exit status {:?}, expected 0", r.code));
                    }
                    if r.stdout != want {
                        return Err(format!("output differs: got {:?}", r.stdout.chars().take(120).collect::<String>()));
                    }
                }
                _ => unreachable!(),
            }
            Ok(warnings(&o.stderr))
        }
    }
}
