//! The build fingerprint, as `truk fp` reads it from real builds: the same sources give one
//! fingerprint however the entry file is spelled, from whatever folder, wherever the tree
//! lies; one changed byte or one output-changing flag gives another.

use std::path::{Path, PathBuf};

mod common;
use common::{text, truk, Scratch};

const APP: &str = "import \"lib/util.truk\";\ncimport \"inc/local.h\";\nextern fn twice(x: i32) : i32;\n\
fn main() : i32 { return twice(util()); }\n";
const UTIL: &str = "import \"deep/more.truk\";\nfn util() : i32 { return more() + 1; }\n";
const MORE: &str = "fn more() : i32 { return 20; }\n";
const HEADER: &str = "static inline int twice(int x) { return 2 * x; }\n";

/// Writes the project tree under `dir`; returns the entry file.
fn project(s: &Scratch, dir: &str) -> PathBuf {
    s.write(&format!("{dir}/lib/util.truk"), UTIL);
    s.write(&format!("{dir}/lib/deep/more.truk"), MORE);
    s.write(&format!("{dir}/inc/local.h"), HEADER);
    s.write(&format!("{dir}/app.truk"), APP)
}

/// Builds `entry` as spelled, from the folder `cwd`, and returns the fingerprint that `truk
/// fp` reads from the output.
fn fp_of_build(cwd: &Path, entry: &str, out: &Path, extra: &[&str]) -> String {
    let o = truk().current_dir(cwd).arg("build").args(extra).arg(entry).arg("-o").arg(out).output().unwrap();
    assert!(o.status.success(), "build of {entry} in {}: {}", cwd.display(), text(&o.stderr));
    let o = truk().current_dir(cwd).arg("fp").arg(out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let fp = text(&o.stdout).trim().to_string();
    assert_eq!(fp.len(), 64, "{fp}");
    fp
}

#[test]
fn the_same_sources_give_one_fingerprint_however_the_entry_is_named() {
    let s = Scratch::new("fp-spellings");
    let entry = project(&s, "proj");
    let proj = entry.parent().unwrap().to_path_buf();
    let copy = project(&s, "elsewhere/a/b/proj");
    let copy_dir = copy.parent().unwrap().to_path_buf();
    let out = s.0.join("out");
    let abs = entry.to_str().unwrap().to_string();
    let base = fp_of_build(&proj, "app.truk", &out, &[]);
    // The program runs: the import in a subfolder and the local header's static inline.
    assert_eq!(std::process::Command::new(&out).status().unwrap().code(), Some(42));
    let lib = proj.join("lib");
    let spellings: [(&Path, &str); 11] = [
        (&proj, "./app.truk"),
        (&proj, &abs),
        (&proj, "lib/../app.truk"),
        (&lib, "../app.truk"),
        (&lib.join("deep"), "../../app.truk"),
        (&s.0, "proj/app.truk"),
        (&s.0, "./proj//app.truk"),
        (Path::new("/"), &abs),
        (&copy_dir, "app.truk"),
        (&copy_dir, "./app.truk"),
        (&copy_dir.join("lib"), "../app.truk"),
    ];
    for (cwd, spelled) in spellings {
        assert_eq!(fp_of_build(cwd, spelled, &out, &[]), base, "`{spelled}` built in {}", cwd.display());
    }
}

#[test]
fn output_path_and_emit_do_not_matter_flags_and_bytes_do() {
    let s = Scratch::new("fp-inputs");
    let entry = project(&s, "proj");
    let proj = entry.parent().unwrap().to_path_buf();
    let exe = s.0.join("exe");
    let base = fp_of_build(&proj, "app.truk", &exe, &[]);
    // Neither the output's name or folder, nor stopping at the object, changes the binary's
    // identity; nor does the environment's TRUK_TIMINGS.
    assert_eq!(fp_of_build(&proj, "app.truk", Path::new("rel-out"), &[]), base);
    assert_eq!(fp_of_build(&proj, "app.truk", &s.0.join("deeper/other-name"), &[]), base);
    assert_eq!(fp_of_build(&proj, "app.truk", &s.0.join("app.o"), &["--emit", "obj"]), base);
    let o = truk().current_dir(&proj).env("TRUK_TIMINGS", "1").args(["build", "app.truk", "-o"]).arg(&exe).output().unwrap();
    assert!(o.status.success());
    assert_eq!(text(&truk().arg("fp").arg(&exe).output().unwrap().stdout).trim(), base);

    let obj = s.0.join("x.o");
    let mut seen = vec![base.clone()];
    let mut differs = |fp: String, what: &str| {
        assert!(!seen.contains(&fp), "{what}: the fingerprint did not change");
        seen.push(fp);
    };
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj", "--release"]), "--release");
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj", "--release", "-g"]), "--release -g");
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj", "-g0"]), "-g0");
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj", "--fleet-capacity", "8"]), "--fleet-capacity");
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj", "--target", "aarch64-unknown-linux-gnu"]), "--target");
    // One changed byte in a file two folders down, then in the cimported local header.
    s.write("proj/lib/deep/more.truk", &MORE.replace("20", "21"));
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj"]), "a byte of an import");
    s.write("proj/lib/deep/more.truk", MORE);
    assert_eq!(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj"]), base, "the byte restored");
    s.write("proj/inc/local.h", &HEADER.replace("2 * x", "3 * x"));
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj"]), "a byte of the local header");
    // The same tree with the entry file renamed is another program (its key changed).
    s.write("proj/inc/local.h", HEADER);
    std::fs::rename(&entry, proj.join("main.truk")).unwrap();
    differs(fp_of_build(&proj, "main.truk", &obj, &["--emit", "obj"]), "the entry renamed");
}
