//! Warnings through the `truk` binary: they print but do not fail a build, unless
//! `--deny-warnings`; colours follow the terminal, `NO_COLOR` and `CLICOLOR_FORCE`.

mod common;

use common::{text, truk, Scratch};

const NARROWS: &str = "fn main() : i32 {\n    var a: i64 = 300;\n    var unused: i32 = 1;\n    return a;\n}\n";

#[test]
fn warnings_print_like_errors_and_the_program_still_builds_and_runs() {
    let s = Scratch::new("warn-run");
    let src = s.write("narrow.truk", NARROWS);
    let o = truk().arg("run").arg(&src).env_remove("CLICOLOR_FORCE").output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(44), "{err}");
    assert!(err.contains("warning: narrowing conversion from `i64` to `i32` may change the value\n --> "), "{err}");
    assert!(err.contains("narrow.truk:4:12\n"), "{err}");
    assert!(err.contains("warning: unused variable `unused`"), "{err}");
    assert!(!err.contains('\x1b'), "no colours when stderr is no terminal: {err:?}");
}

#[test]
fn deny_warnings_fails_the_build_and_leaves_no_binary() {
    let s = Scratch::new("warn-deny");
    let src = s.write("narrow.truk", NARROWS);
    let exe = s.0.join("narrow");
    let o = truk().arg("build").arg("--deny-warnings").arg(&src).arg("-o").arg(&exe).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("warning: unused variable `unused`"), "{err}");
    assert!(err.ends_with("error: warnings are denied (--deny-warnings)\n"), "{err}");
    // Each warning once, as a warning (not `error: warning: ...`).
    assert_eq!(err.matches("unused variable `unused`").count(), 1, "{err}");
    assert!(!err.contains("error: warning:"), "{err}");
    assert!(!exe.exists());
    let o = truk().arg("build").arg(&src).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success() && exe.exists(), "{}", text(&o.stderr));
}

#[test]
fn clicolor_force_paints_diagnostics_and_no_color_wins() {
    let s = Scratch::new("warn-colour");
    let src = s.write("narrow.truk", NARROWS);
    let bad = s.write("bad.truk", "fn main() : i32 {\n    var d: u8 = 300;\n    return 0;\n}\n");
    let exe = s.0.join("out");
    let run = |src: &std::path::Path, no_color: bool| {
        let mut c = truk();
        c.arg("build").arg(src).arg("-o").arg(&exe).env("CLICOLOR_FORCE", "1");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        text(&c.output().unwrap().stderr)
    };
    let painted = run(&src, false);
    assert!(painted.starts_with("\x1b[1;33mwarning\x1b[0m"), "{painted:?}");
    let painted = run(&bad, false);
    assert!(painted.starts_with("\x1b[1;31merror\x1b[0m"), "{painted:?}");
    assert!(painted.contains("\x1b[1;31m^^^\x1b[0m"), "{painted:?}");
    let plain = run(&bad, true);
    assert!(plain.starts_with("error: integer literal `300` does not fit in `u8`\n"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}
