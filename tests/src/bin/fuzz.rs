//! A seeded mutation fuzzer for the compiler: mutants of the `tests/lang` programs and the
//! conformance corpus (`../shared/conformance` beside the project), each compiled by the real
//! `truk` to an object file. A mutant fails the run when the compiler dies of a signal,
//! panics, hangs (per-mutant time-out), or prints an `error:` or `warning:` without a
//! `--> file:line:col` after it. Failing mutants are written to `target/fuzz/`; mutant `i` of seed `s` is the
//! same on every run, so `--seed s` reproduces a failure.
//!
//! Usage: fuzz [--seed N] [--budget SECS] [--max N] [--timeout SECS] [--truk PATH] [--corpus DIR]
//! The run stops starting mutants when the budget (default 60 s) is spent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use truk_tests::{project_root, run, truk_binary};

/// splitmix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Nesting depths the injections use: both sides of the limit, and far beyond it.
const DEPTHS: [usize; 7] = [2, 50, 998, 1000, 1001, 5000, 60_000];

/// Text to repeat at one place (`open`), optionally closed at another (`close`).
const NESTINGS: [(&str, &str); 16] = [
    ("(", ")"),
    ("{ ", " }"),
    ("[", "]"),
    ("-", ""),
    ("!", ""),
    ("*", ""),
    ("&", ""),
    ("[1]", ""),
    (" as i32", ""),
    ("[0]", ""),
    (".x", ""),
    ("->x", ""),
    ("()", ""),
    (" + 1", ""),
    (" else if x { }", ""),
    ("fn() : i32 { return ", "; }"),
];

/// Values at the edges of the integer types, and some that are past them.
const EDGE_VALUES: [&str; 14] = [
    "0", "1", "255", "256", "-1", "127", "-128", "2147483647", "-2147483648", "4294967295", "9223372036854775807",
    "-9223372036854775808", "18446744073709551615", "18446744073709551616",
];

/// Bytes that are not text: control characters, bidi overrides, invalid UTF-8.
const HOSTILE: [&[u8]; 9] = [b"\x1b[2J", b"\x00", b"\x07", "\u{202e}".as_bytes(), "\u{2066}".as_bytes(), b"\xc2\x9b", b"\xff", b"\xc3", b"\x80\x80"];

fn mutate(rng: &mut Rng, corpus: &[(PathBuf, Vec<u8>)], src: &[u8]) -> Vec<u8> {
    let mut s = src.to_vec();
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    for _ in 0..1 + rng.below(3) * rng.below(2) {
        let at = rng.below(s.len() + 1);
        // The word (name, keyword or number) at or after `at`: the well-formed mutations
        // replace or wrap one.
        let start = (at..s.len()).find(|&i| word(&s[i]) && (i == 0 || !word(&s[i - 1]))).unwrap_or(at);
        let end = (start..s.len()).find(|&i| !word(&s[i])).unwrap_or(s.len());
        match rng.below(10) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = match rng.below(3) {
                    0 => s[i] ^ (1 << rng.below(8)),
                    1 => *rng.pick(b"(){}[];,.:=+-*/&|!<>\"' \n0x_"),
                    _ => rng.next() as u8,
                };
            }
            1 => {
                let n = rng.below(40).min(s.len() - at);
                s.drain(at..at + n);
            }
            2 => {
                // Repeat a run of bytes (a token or a few).
                let n = (1 + rng.below(30)).min(s.len() - at);
                let run = s[at..at + n].to_vec();
                let most = if rng.below(4) == 0 { 3000 } else { 4 };
                for _ in 0..1 + rng.below(most) {
                    s.splice(at..at, run.iter().copied());
                }
            }
            3 => {
                // Splice in a piece of another file.
                let other = &rng.pick(corpus).1;
                let from = rng.below(other.len() + 1);
                let n = rng.below(400).min(other.len() - from);
                s.splice(at..at, other[from..from + n].iter().copied());
            }
            4 => {
                // Around a word (a name or a number), where the program stays well formed
                // more often and the nesting reaches the later stages.
                let (open, close) = *rng.pick(&NESTINGS);
                let depth = *rng.pick(&DEPTHS);
                // Suffix-only nestings (`[0]`, `.x`, ` as i32`) go after the word.
                let (open_at, close_at) = if close.is_empty() && !matches!(open, "-" | "!" | "*" | "&") { (end, end) } else { (start, end) };
                s.splice(close_at..close_at, close.repeat(depth).into_bytes());
                s.splice(open_at..open_at, open.repeat(depth).into_bytes());
            }
            5 => {
                let bytes = rng.pick(&HOSTILE);
                s.splice(at..at, bytes.iter().copied());
            }
            6 => s.truncate(at),
            7 => {
                // Another word of the same file in its place (names, types, keywords).
                let other = rng.below(s.len() + 1);
                let o_start = (other..s.len()).find(|&i| word(&s[i]) && (i == 0 || !word(&s[i - 1]))).unwrap_or(other);
                let o_end = (o_start..s.len()).find(|&i| !word(&s[i])).unwrap_or(s.len());
                let w = s[o_start..o_end].to_vec();
                s.splice(start..end, w);
            }
            8 => {
                let edge = rng.pick(&EDGE_VALUES);
                s.splice(start..end, edge.bytes());
            }
            _ => {
                // Swap two lines.
                let lines: Vec<&[u8]> = s.split(|&b| b == b'\n').collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut l: Vec<Vec<u8>> = lines.iter().map(|x| x.to_vec()).collect();
                    l.swap(a, b);
                    s = l.join(&b'\n');
                }
            }
        }
    }
    s
}

/// Why the compiler's answer to a mutant is not acceptable, if it is not.
fn verdict(o: &truk_tests::Out) -> Option<String> {
    if o.timed_out {
        return Some("hang (time-out)".into());
    }
    match o.code {
        None => return Some("no exit status".into()),
        Some(c) if c >= 128 => return Some(format!("killed by signal {}", c - 128)),
        Some(101) => return Some("panic (exit 101)".into()),
        _ => {}
    }
    // Rust's panic message, not the word in a quoted line of the mutant's source.
    if o.stderr.lines().any(|l| l.starts_with("thread '") && l.contains("' panicked at")) {
        return Some("panic".into());
    }
    let lines: Vec<&str> = o.stderr.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if (l.starts_with("error:") || l.starts_with("warning:")) && !l.starts_with("error: aborting due to") {
            let located = lines.get(i + 1).is_some_and(|n| n.trim_start().starts_with("--> ") && has_line_col(n));
            if !located {
                return Some(format!("diagnostic without a location: {}", l.chars().take(160).collect::<String>()));
            }
        }
    }
    None
}

/// `--> FILE:LINE:COL`
fn has_line_col(l: &str) -> bool {
    let mut parts = l.rsplitn(3, ':');
    let col = parts.next().unwrap_or("");
    let line = parts.next().unwrap_or("");
    !col.is_empty() && col.bytes().all(|b| b.is_ascii_digit()) && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

/// The `.truk` files under `dir`, in any folder depth.
fn truk_files(dir: &Path) -> Vec<PathBuf> {
    let (mut dirs, mut out) = (vec![dir.to_path_buf()], vec![]);
    while let Some(d) = dirs.pop() {
        for p in std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.path()) {
            match p.is_dir() {
                true => dirs.push(p),
                false if p.extension().is_some_and(|x| x == "truk") => out.push(p),
                false => {}
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let num = |name: &str, default: u64| flag(name).map(|v| v.parse().unwrap_or_else(|_| panic!("{name} wants a number, not {v}"))).unwrap_or(default);
    let root = project_root();
    let seed = num("--seed", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1));
    let budget = Duration::from_secs(num("--budget", 60));
    let max = num("--max", u64::MAX) as usize;
    let timeout = Duration::from_secs(num("--timeout", 20));
    let truk = flag("--truk").map(PathBuf::from).or_else(truk_binary).unwrap_or_else(|| PathBuf::from("truk"));
    if !truk.is_file() {
        eprintln!("fuzz: no truk binary at {} (build it first: cargo build -p truk)", truk.display());
        std::process::exit(2);
    }
    let mut files = truk_files(&root.join("tests/lang"));
    let shared = flag("--corpus").map(PathBuf::from).unwrap_or_else(|| root.join("../shared/conformance"));
    files.extend(truk_files(&shared));
    files.sort();
    let corpus: Vec<(PathBuf, Vec<u8>)> = files.into_iter().filter_map(|f| Some((f.clone(), std::fs::read(&f).ok()?))).collect();
    if corpus.is_empty() {
        eprintln!("fuzz: no programs to mutate");
        std::process::exit(2);
    }
    println!("fuzz: seed {seed}, {} programs, budget {}s (reproduce: fuzz --seed {seed})", corpus.len(), budget.as_secs());
    let failures_dir = root.join("target/fuzz");
    let scratch = std::env::temp_dir().join(format!("truk-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let compiled = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<String>> = Mutex::new(vec![]);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::thread::scope(|s| {
        for w in 0..workers {
            let (corpus, next, compiled, stop, failures, truk, scratch, failures_dir) = (&corpus, &next, &compiled, &stop, &failures, &truk, &scratch, &failures_dir);
            s.spawn(move || loop {
                if stop.load(Ordering::Relaxed) || started.elapsed() >= budget {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    break;
                }
                // Mutant `i` depends only on the seed and `i`.
                let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
                let (path, src) = rng.pick(corpus);
                let mutant = mutate(&mut rng, corpus, src);
                let file = scratch.join(format!("m{w}.truk"));
                std::fs::write(&file, &mutant).unwrap();
                let folder = path.parent().unwrap_or(Path::new("."));
                let mut cmd = Command::new(truk);
                cmd.args(["build", "--emit", "obj", "-I"]).arg(folder).arg(&file).arg("-o").arg(scratch.join(format!("m{w}.o")));
                let o = run(&mut cmd, timeout);
                if o.code == Some(0) {
                    compiled.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(why) = verdict(&o) {
                    let _ = std::fs::create_dir_all(failures_dir);
                    let keep = failures_dir.join(format!("seed{seed}-mutant{i}.truk"));
                    let _ = std::fs::write(&keep, &mutant);
                    let first = o.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(200).collect::<String>();
                    let line = format!("FAIL mutant {i} of {}: {why}\n  kept as {}\n  {first}", path.display(), keep.display());
                    println!("{line}");
                    failures.lock().unwrap().push(line);
                    if failures.lock().unwrap().len() >= 20 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let ran = next.load(Ordering::Relaxed).min(max);
    let failed = failures.lock().unwrap().len();
    let ok = compiled.load(Ordering::Relaxed);
    println!("fuzz: {ran} mutants ({ok} compiled, the rest rejected) in {:.1}s, seed {seed}, {failed} failed", started.elapsed().as_secs_f64());
    if failed > 0 {
        std::process::exit(1);
    }
}
