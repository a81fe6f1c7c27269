//! The standard library through real programs: examples/wordfreq.truk (with std) and
//! examples/wordfreq_libc.truk (libc only) must print the same top 10 as a reference count
//! made here; io_read_stdin and io_read_line read a pipe.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{text, truk, Scratch};

fn build(s: &Scratch, src: &Path, name: &str) -> PathBuf {
    let exe = s.0.join(name);
    let o = truk().arg("build").arg(src).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success(), "{} does not build: {}", src.display(), text(&o.stderr));
    exe
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// A text of more than 64 KiB (the readers' first buffer) with mixed case, punctuation,
/// digits and ties.
fn sample() -> String {
    let words = ["Fleet", "region", "the", "mutex", "a", "of", "channel", "table", "member", "zebra", "apple", "it's"];
    let mut out = String::new();
    for i in 0..9000usize {
        out.push_str(words[(i * i + i / 7) % words.len()]);
        out.push_str(match i % 5 {
            0 => ", ",
            1 => "\n",
            2 => "--42 ",
            3 => "\t",
            _ => ". ",
        });
    }
    out
}

/// The expected output: runs of ASCII letters, lower-cased, by count then alphabetically.
fn reference(s: &str) -> String {
    let mut counts: HashMap<String, i32> = HashMap::new();
    for w in s.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()) {
        *counts.entry(w.to_ascii_lowercase()).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.iter().take(10).map(|(w, c)| format!("{c} {w}\n")).collect()
}

fn run(exe: &Path, arg: &Path) -> Output {
    Command::new(exe).arg(arg).output().unwrap()
}

#[test]
fn wordfreq_with_std_and_with_libc_agree_with_a_reference_count() {
    let s = Scratch::new("wordfreq");
    let input = s.write("input.txt", &sample());
    let want = reference(&sample());
    assert_eq!(want.lines().count(), 10);
    for name in ["wordfreq", "wordfreq_libc"] {
        let exe = build(&s, &example(&format!("{name}.truk")), name);
        let o = run(&exe, &input);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout), want, "{name}");
        // A missing file: the reason on stderr, status 1.
        let missing = s.0.join("missing.txt");
        let o = run(&exe, &missing);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert_eq!(text(&o.stderr), format!("{}: No such file or directory\n", missing.display()), "{name}");
        assert!(o.stdout.is_empty());
        // An empty file: no words, no output.
        let o = run(&exe, &s.write("empty.txt", ""));
        assert!(o.status.success() && o.stdout.is_empty(), "{name}");
    }
}

/// The stdout of `exe` fed `input` on a pipe (written from a thread: the input is larger
/// than a pipe holds).
fn run_with_stdin(exe: &Path, input: &str) -> String {
    let mut child = Command::new(exe).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(feed.as_bytes()));
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(o.status.success());
    text(&o.stdout)
}

/// A program built from `src` in its own scratch folder (kept alive by the returned guard).
fn program(name: &str, src: &str) -> (Scratch, PathBuf) {
    let s = Scratch::new(name);
    let path = s.write(&format!("{name}.truk"), src);
    let exe = build(&s, &path, name);
    (s, exe)
}

#[test]
fn read_stdin_reads_all_of_a_pipe() {
    let (_s, exe) = program(
        "count",
        "import \"io\";\nimport \"str\";\n\nfn main() : i32 {\n  let data, err = io_read_stdin();\n  if err != nil { return 1; }\n  var words: [][]u8 = str_fields(data);\n  println(len(data), \" bytes, \", len(words), \" words, last \", words[len(words) - 1]);\n  return 0;\n}\n",
    );
    let input = "word ".repeat(30000) + "end\n";
    assert_eq!(run_with_stdin(&exe, &input), format!("{} bytes, 30001 words, last end\n", input.len()));
}

#[test]
fn read_line_reads_a_pipe_line_by_line() {
    let (_s, exe) = program(
        "lines",
        "import \"io\";\n\nfn main() : i32 {\n  var n: i32 = 0;\n  while true {\n    let line, ok = io_read_line();\n    if !ok { break; }\n    n += 1;\n    println(n, \": [\", line, \"] \", len(line));\n  }\n  println(\"end after \", n);\n  return 0;\n}\n",
    );
    let long = "x".repeat(100000);
    let got = run_with_stdin(&exe, &format!("one\r\n\n{long}\nlast"));
    assert_eq!(got, format!("1: [one] 3\n2: [] 0\n3: [{long}] 100000\n4: [last] 4\nend after 4\n"));
    assert_eq!(run_with_stdin(&exe, ""), "end after 0\n");
}

/// What `truk build` says about print misuse: a value print cannot show, and print without
/// `import "io"` (an unknown name, as before the builtins existed).
#[test]
fn print_diagnostics() {
    let s = Scratch::new("printdiag");
    let build = |name: &str, src: &str| {
        s.write(name, src);
        let o = truk().arg("build").arg(name).current_dir(&s.0).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        text(&o.stderr)
    };
    insta::assert_snapshot!(build(
        "point.truk",
        "import \"io\";\n\nstruct Point { x: i32, y: i32 }\n\nfn main() : i32 {\n  var p: Point = Point{x: 1, y: 2};\n  println(\"p = \", p, \" and \", [1, 2]);\n  return 0;\n}\n"
    ));
    insta::assert_snapshot!(build("noio.truk", "fn main() : i32 {\n  println(\"hello\");\n  return 0;\n}\n"));
}
