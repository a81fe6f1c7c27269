//! Compiles and runs every program in the Truk guide (`docs/language/*.md`; see
//! `truk_tests::guide` for the block format) against the `truk` binary, on parallel threads.
//!
//! `TRUK_TARGET=TRIPLE` builds them for another target (run under qemu-user when foreign).
//! `TRUK_GUIDE_ONLY=tour.md` checks only the pages whose path contains that text.
//! The binary is the one cargo last built (`target/<profile>/truk`), as for `tests/lang`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use truk_tests::guide::{check_block, guide_files, parse_blocks, Block};
use truk_tests::{project_root, scratch_dir, target_arg, truk_or_panic};

fn scratch(name: &str) -> PathBuf {
    scratch_dir(&format!("guide-{name}"))
}

/// Check every block of `files` in parallel; the failures, each naming FILE:LINE.
fn check_all(files: &[PathBuf], tag: &str) -> (usize, Vec<String>) {
    let root = project_root();
    let mut cases: Vec<(String, Block)> = vec![];
    let mut failures = vec![];
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        match parse_blocks(&text) {
            Ok(bs) => cases.extend(bs.into_iter().map(|b| (name.clone(), b))),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    let truk = truk_or_panic();
    let target = target_arg(&[]);
    let base = scratch(tag);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(failures);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, b)) = cases.get(i) else { break };
                let dir = base.join(i.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                let ns = format!("guide-{}-{tag}-{i}", std::process::id());
                if let Err(why) = check_block(&truk, b, &dir, target.as_deref(), &ns) {
                    failures.lock().unwrap().push(format!("{name}:{}: {why}", b.line));
                }
                let _ = std::fs::remove_dir_all(&dir);
            });
        }
    });
    let _ = std::fs::remove_dir_all(&base);
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    (cases.len(), failures)
}

#[test]
fn every_guide_program_behaves_as_the_guide_says() {
    // TRUK_GUIDE_ONLY=tour.md checks only the pages whose path contains that text.
    let only = std::env::var("TRUK_GUIDE_ONLY").unwrap_or_default();
    let files: Vec<PathBuf> = guide_files(&project_root()).into_iter().filter(|f| f.to_string_lossy().contains(&only)).collect();
    let (n, failures) = check_all(&files, "all");
    assert!(failures.is_empty(), "{} of {n} guide blocks failed:\n\n{}", failures.len(), failures.join("\n\n"));
    assert!(n >= 1, "no ```truk blocks found under docs/language");
}

/// Pages written in parallel with the guide that may not be there yet: linked, not required.
const PENDING_PAGES: &[&str] = &[];

/// Every relative link of the guide's pages leads to a file, and the index links every page.
#[test]
fn every_link_of_the_guide_leads_somewhere() {
    let root = project_root();
    let pages: Vec<PathBuf> = guide_files(&root).into_iter().filter(|f| f.starts_with(root.join("docs/language"))).collect();
    let mut broken = vec![];
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in text.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
            let file = target.split('#').next().unwrap_or("");
            if file.is_empty() || file.contains("://") {
                continue;
            }
            let path = page.parent().unwrap().join(file);
            let pending = PENDING_PAGES.iter().any(|p| root.join(p) == path);
            if !path.exists() && !pending {
                broken.push(format!("{}: {target}", page.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
    let index = std::fs::read_to_string(root.join("docs/language/README.md")).unwrap();
    let unlisted: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .filter(|n| n != "README.md" && !index.contains(&format!("]({n})")))
        .collect();
    assert!(unlisted.is_empty(), "pages the index (docs/language/README.md) does not link: {unlisted:?}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The runner must be able to fail: a wrong output, exit status, error text, a program
/// that compiles where it must not, and a malformed page are each reported with FILE:LINE.
#[test]
fn a_wrong_block_is_reported_with_its_line() {
    let dir = scratch("neg");
    let prog = "```truk\nextern fn printf(fmt: *i8, ...args) : i32;\nfn main() : i32 {\n  printf(\"hi\\n\");\n  return 3;\n}\n```\n";
    let good = write(&dir, "good.md", &format!("# ok\n\n{prog}\n```output\nhi\n```\n").replace("```truk", "```truk exit=3"));
    let (n, f) = check_all(&[good], "good");
    assert_eq!((n, f), (1, vec![]));
    let wrong_out = write(&dir, "out.md", &format!("text\n\n{}\n```output\nho\n```\n", prog.replace("```truk", "```truk exit=3")));
    let wrong_exit = write(&dir, "exit.md", &format!("{prog}```output\nhi\n```\n"));
    let no_output = write(&dir, "none.md", &prog.replace("```truk", "```truk exit=3"));
    let compiles = write(&dir, "compiles.md", "```truk error\nfn main() : i32 { return 0; }\n```\n```output\nerror\n```\n");
    let wrong_error = write(&dir, "err.md", "```truk error\nfn main() : i32 { return y; }\n```\n```output\nno such text\n```\n");
    let orphan = write(&dir, "orphan.md", "```output\nhi\n```\n");
    let (_, f) = check_all(&[wrong_out, wrong_exit, no_output, compiles, wrong_error, orphan], "bad");
    let has = |prefix: &str, text: &str| f.iter().any(|m| m.contains(&format!("/{prefix}")) && m.contains(text));
    assert!(has("out.md:3: ", "actual stdout ---\nhi\n"), "{f:#?}");
    assert!(has("exit.md:1: ", "exit status Some(3), expected 0"), "{f:#?}");
    assert!(has("none.md:1: ", "expected stdout is:\n--- actual stdout ---\nhi\n"), "{f:#?}");
    assert!(has("compiles.md:1: ", "must be rejected"), "{f:#?}");
    assert!(has("err.md:1: ", "stderr lacks [\"no such text\"]"), "{f:#?}");
    assert!(has("orphan.md: ", "line 1: an output block must follow"), "{f:#?}");
    assert_eq!(f.len(), 6, "{f:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `args=`, `stdin=` and `file=` blocks reach the program; `test` blocks run `truk test`.
#[test]
fn arguments_input_and_files_reach_the_program() {
    let dir = scratch("io");
    let md = concat!(
        "```text file=in.txt\nabc\n```\n",
        "```truk file=lib/two.truk\nfn two() : i32 { return 2; }\n```\n",
        "```truk args=\"x yz\" stdin=in.txt exit=2\n",
        "import \"lib/two.truk\";\nextern fn printf(fmt: *i8, ...args) : i32;\nextern fn getchar() : i32;\n",
        "fn main(argc: i32, argv: **i8) : i32 {\n    printf(\"%d %s %c\\n\", argc, argv[2], getchar());\n    return two();\n}\n```\n",
        "```output\n3 yz a\n```\n",
        "```truk test\nimport \"testing\";\nfn test_one(t: *__truk_test_context_s) : void {\n    __truk_test_assert_i32(t, 1, 1, \"one\");\n}\n```\n",
        "```output\n1 passed, 0 failed\n```\n",
    );
    let f = write(&dir, "io.md", md);
    assert_eq!(check_all(&[f], "io"), (2, vec![]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fleet program whose copies outlive it, or that hangs, leaves no process and no region
/// file behind.
#[test]
fn a_block_leaves_no_process_or_region_behind() {
    let dir = scratch("left");
    let md = "```truk\nextern fn sleep(s: u32) : u32;\nshared var n: i64;\nfn main(argc: i32, argv: **i8) : i32 {\n    if argc > 1 {\n        sleep(300);\n        return 0;\n    }\n    spawn([\"child\"]);\n    return 0;\n}\n```\n";
    let f = write(&dir, "left.md", md);
    let (n, failures) = check_all(&[f], "left");
    assert_eq!((n, failures), (1, vec![]));
    let mark = format!("guide-{}-left-0", std::process::id());
    let in_shm = std::fs::read_dir("/dev/shm").unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(&mark));
    assert!(!in_shm, "a region file of {mark} is left in /dev/shm");
    let env = format!("TRUK_FLEET_NS={mark}");
    let alive = std::fs::read_dir("/proc").unwrap().flatten().filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok()).any(|e| {
        std::fs::read(e.path().join("environ")).is_ok_and(|v| v.split(|&b| b == 0).any(|x| x == env.as_bytes()))
    });
    assert!(!alive, "a process of {mark} is still running");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fences_and_their_words_are_read() {
    let md = "```c\nint x;\n```\n```truk file=lib.truk\nfn f() : i32 { return 1; }\n```\nSome prose.\n```text file=in.txt\nhello\n```\n```truk exit=2 args=\"a b\" stdin=in.txt\nfn main() : i32 { return 2; }\n```\n\nIt prints:\n\n```output\nx\n```\n````truk test\n```\n````\n";
    let bs = parse_blocks(&md).unwrap();
    assert_eq!(bs.len(), 2);
    assert_eq!((bs[0].line, bs[0].exit, bs[0].args.clone()), (11, 2, vec!["a".to_string(), "b".to_string()]));
    assert_eq!(bs[0].files, vec![("lib.truk".to_string(), "fn f() : i32 { return 1; }\n".to_string()), ("in.txt".to_string(), "hello\n".to_string())]);
    assert_eq!((bs[0].stdin.as_deref(), bs[0].output.as_deref()), (Some("in.txt"), Some("x\n")));
    assert!(bs[1].test && bs[1].code == "```\n");
    // A dangling file= block, an unknown word, and an unclosed block are errors.
    assert!(parse_blocks("```truk exit=1 bogus\n```\n").unwrap_err().contains("unknown word `bogus`"));
    assert!(parse_blocks("```truk\nfn main\n").unwrap_err().contains("unclosed"));
    assert!(parse_blocks("```truk\n```\n```truk file=x.truk\n```\n").unwrap_err().contains("followed by no program"));
    assert!(parse_blocks("```truk error\n```\n").unwrap_err().contains("needs an output block"));
    assert!(parse_blocks("```c file=../x.h\n```\n```truk\n```\n").unwrap_err().contains("bad file name"));
    assert_eq!(parse_blocks("```c file=inc/x.h\n```\n```truk\n```\n").unwrap()[0].files[0].0, "inc/x.h");
}
