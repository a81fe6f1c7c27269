//! Runs every program under `tests/lang/` (see `truk_tests::lang` for the comment header
//! each one carries) against the `truk` binary, on parallel threads.
//!
//! `TRUK_TARGET=TRIPLE` builds them for another target (run under qemu-user when foreign).
//!
//! The binary is the one cargo last built (`target/<profile>/truk`): `cargo test --workspace`
//! builds it before running any test; after `cargo test -p truk-tests` alone it may be stale.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use truk_tests::lang::{check_case, collect, parse_spec};
use truk_tests::{project_root, target_arg, truk_binary};

fn truk() -> PathBuf {
    truk_binary().expect("no truk binary beside the test executable: build it first (cargo build -p truk) or set TRUK")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("truk-lang-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_feature_program_behaves_as_its_header_says() {
    let root = project_root().join("tests/lang");
    let cases = collect(&root);
    let truk = truk();
    let target = target_arg(&[]);
    let base = scratch("all");
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(vec![]);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let dir = base.join(i.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                if let Err(why) = check_case(&truk, case, &dir, target.as_deref()) {
                    let name = case.strip_prefix(&root).unwrap_or(case).display().to_string();
                    failures.lock().unwrap().push(format!("{name}: {why}"));
                }
                let _ = std::fs::remove_dir_all(&dir);
            });
        }
    });
    let _ = std::fs::remove_dir_all(&base);
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(failures.is_empty(), "{} of {} programs failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 60, "only {} cases found under {}", cases.len(), root.display());
}

#[test]
fn headers_are_read_and_a_case_without_one_is_an_error() {
    let s = parse_spec("// expect-exit: 101\n// expect-stderr-has: oob.truk:4:\nfn main() : i32 { return 0; }\n", "oob.truk").unwrap();
    assert_eq!(s.exit, Some(101));
    assert_eq!(s.stderr_has, vec!["oob.truk:4:".to_string()]);
    let s = parse_spec("// expect-error: 3: is private\n", "p.truk").unwrap();
    assert_eq!(s.error, Some((3, "is private".to_string())));
    let s = parse_spec("// command: test suite\n// flags: -I inc\n", "t.truk").unwrap();
    assert_eq!(s.test_path.as_deref(), Some("suite"));
    assert_eq!(s.flags, vec!["-I", "inc"]);
    let s = parse_spec("// expect-stdout: a b\n// expect-stdout: c\n", "o.truk").unwrap();
    assert_eq!(s.stdout.as_deref(), Some("a b\nc\n"));
    assert!(parse_spec("fn main() : i32 { return 0; }\n", "x.truk").is_err());
    assert!(parse_spec("// expect-error: 2: bad\n// expect-exit: 1\n", "x.truk").is_err());
}

/// The harness must be able to fail: wrong exits, outputs and error lines are reported.
#[test]
fn a_wrong_expectation_is_reported() {
    let dir = scratch("neg");
    let write = |name: &str, text: &str| -> PathBuf {
        let p = dir.join("cases").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    };
    let truk = truk();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let check = |p: &Path| check_case(&truk, p, &work, None);
    let ok = write("ok.truk", "// expect-exit: 3\nfn main() : i32 { return 3; }\n");
    assert_eq!(check(&ok), Ok(()));
    let exit = write("exit.truk", "// expect-exit: 4\nfn main() : i32 { return 3; }\n");
    assert!(check(&exit).unwrap_err().contains("exit status"));
    let out = write("out.truk", "// expect-stdout: hi\nfn main() : i32 { return 0; }\n");
    assert!(check(&out).unwrap_err().contains("stdout"));
    let line = write("line.truk", "// expect-error: 2: Undefined\nfn main() : i32 {\n  return 0;\n  return y;\n}\n");
    let e = check(&line).unwrap_err();
    assert!(e.contains("no diagnostic at line.truk:2:"), "{e}");
    let accepted = write("acc.truk", "// expect-error: 2: x\nfn main() : i32 { return 0; }\n");
    assert!(check(&accepted).unwrap_err().contains("compiled a program"));
    let _ = std::fs::remove_dir_all(&dir);
}
