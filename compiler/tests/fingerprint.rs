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
const HEADER: &str = "#include \"detail/impl.h\"\n";
const IMPL: &str = "static inline int twice(int x) { return 2 * x; }\n";

/// Writes the project tree under `dir`; returns the entry file.
fn project(s: &Scratch, dir: &str) -> PathBuf {
    s.write(&format!("{dir}/lib/util.truk"), UTIL);
    s.write(&format!("{dir}/lib/deep/more.truk"), MORE);
    s.write(&format!("{dir}/inc/local.h"), HEADER);
    s.write(&format!("{dir}/inc/detail/impl.h"), IMPL);
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
    s.write("proj/inc/local.h", &format!("{HEADER}\n"));
    differs(fp_of_build(&proj, "app.truk", &obj, &["--emit", "obj"]), "a byte of the local header");
    s.write("proj/inc/local.h", HEADER);
    // A byte of the header that the local header includes: another fingerprint, and another
    // program (not the shim object cached for the old header).
    s.write("proj/inc/detail/impl.h", &IMPL.replace("2 * x", "3 * x"));
    differs(fp_of_build(&proj, "app.truk", &exe, &[]), "a byte of a header the local header includes");
    assert_eq!(std::process::Command::new(&exe).status().unwrap().code(), Some(63));
    s.write("proj/inc/detail/impl.h", IMPL);
    // The same tree with the entry file renamed is another program (its key changed).
    std::fs::rename(&entry, proj.join("main.truk")).unwrap();
    differs(fp_of_build(&proj, "main.truk", &obj, &["--emit", "obj"]), "the entry renamed");
}

// ---- `truk fp` on what is not a healthy Truk binary ------------------------------------------

/// `truk fp FILE` with a time-out and at most 1 GB of address space: a tool that blocks on a
/// FIFO, or reads a huge file whole, fails here instead of hanging or eating the machine.
fn fp_bounded(file: &Path) -> (Option<i32>, String, String) {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 1000000 && exec \"$@\"", "sh", env!("CARGO_BIN_EXE_truk"), "fp"])
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`truk fp {}` still runs after a minute", file.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

/// `truk fp` refuses `file` with one `error:` line that says `why`.
fn fp_refuses(file: &Path, why: &str) {
    let (code, out, err) = fp_bounded(file);
    assert_eq!(code, Some(1), "{}: {out}{err}", file.display());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(why), "{}: {err}", file.display());
}

#[test]
fn fp_refuses_fifos_devices_folders_and_huge_files_quickly() {
    let s = Scratch::new("fp-special");
    let fifo = s.0.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fp_refuses(&fifo, "not a regular file but a FIFO");
    fp_refuses(Path::new("/dev/zero"), "not a regular file but a device");
    fp_refuses(&s.0, "not a regular file but a folder");
    let huge = s.0.join("huge");
    std::fs::File::create(&huge).unwrap().set_len(10 << 30).unwrap(); // sparse: no disk used
    fp_refuses(&huge, "not an executable or object file");
}

/// A Truk executable of `s`, and its fingerprint.
fn truk_exe(s: &Scratch) -> (PathBuf, String) {
    let src = s.write("small.truk", "fn main() : i32 { return 0; }\n");
    let exe = s.0.join("small");
    let fp = fp_of_build(&s.0, src.to_str().unwrap(), &exe, &[]);
    (exe, fp)
}

#[test]
fn fp_reads_only_what_it_needs_of_a_huge_binary() {
    let s = Scratch::new("fp-huge");
    let (exe, fp) = truk_exe(&s);
    // The same binary followed by 10 GB of holes: headers and note are where they were.
    let f = std::fs::OpenOptions::new().write(true).open(&exe).unwrap();
    f.set_len(10 << 30).unwrap();
    drop(f);
    let (code, out, err) = fp_bounded(&exe);
    assert_eq!((code, out.trim()), (Some(0), fp.as_str()), "{err}");
}

#[test]
fn fp_of_truncated_or_damaged_binaries_is_one_error_line() {
    let s = Scratch::new("fp-damaged");
    let (exe, fp) = truk_exe(&s);
    let bytes = std::fs::read(&exe).unwrap();
    let victim = s.0.join("victim");
    for len in [0, 3, 16, 63, 64, 100, 200, 1000, 4096, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&victim, &bytes[..len]).unwrap();
        let (code, out, err) = fp_bounded(&victim);
        // The PT_NOTE segment near the start may survive the cut: then the answer is right.
        if code == Some(0) {
            assert_eq!(out.trim(), fp, "cut at {len}");
        } else {
            assert_eq!((code, err.lines().count()), (Some(1), 1), "cut at {len}: {err}");
            assert!(err.starts_with("error: "), "{err}");
        }
    }
    // The note's section and segment both point past the end of the file.
    let mut x = bytes.clone();
    point_notes_past_the_end(&mut x);
    std::fs::write(&victim, &x).unwrap();
    fp_refuses(&victim, "damaged Truk note: section .note.truk");
}

/// Moves the `.note.truk` section and every PT_NOTE segment of a little-endian ELF64 file
/// beyond its end.
fn point_notes_past_the_end(elf: &mut [u8]) {
    use object::read::elf::{FileHeader, ProgramHeader};
    let le = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap());
    let past = (elf.len() as u64 + 4096).to_le_bytes();
    let header = object::elf::FileHeader64::<object::Endianness>::parse(&*elf).unwrap();
    let endian = header.endian().unwrap();
    let sections = header.sections(endian, &*elf).unwrap();
    let (index, _) = sections.section_by_name(endian, b".note.truk").expect(".note.truk");
    let phoff = header.e_phoff.get(endian) as usize;
    let notes: Vec<usize> = header
        .program_headers(endian, &*elf)
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_type(endian) == object::elf::PT_NOTE)
        .map(|(i, _)| i)
        .collect();
    // Elf64_Shdr: sh_offset at 24, 64 bytes each; Elf64_Phdr: p_offset at 8, 56 bytes each.
    let sh = le(&elf[0x28..]) as usize + index.0 * 64;
    elf[sh + 24..sh + 32].copy_from_slice(&past);
    for i in notes {
        let ph = phoff + i * 56;
        elf[ph + 8..ph + 16].copy_from_slice(&past);
    }
}
