//! `truk check` and `truk new`, through the real binary.

mod common;
use common::{text, truk, Scratch};

/// `truk check` and `truk build` on `file`: (check's exit success, check's stderr, build's stderr).
fn check_and_build(dir: &Scratch, file: &std::path::Path) -> (bool, String, String) {
    let c = truk().arg("check").arg(file).output().unwrap();
    let b = truk().arg("build").arg(file).arg("-o").arg(dir.0.join("out")).output().unwrap();
    (c.status.success(), text(&c.stderr), text(&b.stderr))
}

#[test]
fn check_gives_the_build_s_diagnostics_across_imports() {
    let d = Scratch::new("check-errors");
    d.write("lib.truk", "fn twice(x: i32) : i32 {\n  return x * \"two\";\n}\n");
    let main = d.write("main.truk", "import \"lib.truk\";\nfn main() : i32 {\n  var s: bool = twice(2);\n  return 0;\n}\n");
    let (ok, check, build) = check_and_build(&d, &main);
    assert!(!ok);
    assert!(check.contains("--> ") && check.contains("lib.truk:2:"), "{check}");
    assert!(check.contains("main.truk:3:"), "{check}");
    assert_eq!(check, build);
}

#[test]
fn check_reports_the_size_limits_of_mir() {
    let d = Scratch::new("check-limits");
    let f = d.write("big.truk", "fn main() : i32 {\n  var x: [65536][65536][65536][65536]u8;\n  return 0;\n}\n");
    let (ok, check, build) = check_and_build(&d, &f);
    assert!(!ok);
    assert!(check.contains("big.truk:2:"), "{check}");
    assert_eq!(check, build);
}

#[test]
fn check_of_a_good_program_says_nothing_and_writes_nothing() {
    let d = Scratch::new("check-ok");
    let f = d.write("ok.truk", "fn main() : i32 {\n  return 0;\n}\n");
    let out = truk().current_dir(&d.0).arg("check").arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(std::fs::read_dir(&d.0).unwrap().count(), 1);
}

#[test]
fn check_wants_main_unless_lib() {
    let d = Scratch::new("check-lib");
    let f = d.write("lib.truk", "fn one() : i32 {\n  return 1;\n}\n");
    let out = truk().arg("check").arg(&f).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no `main` function"), "{}", text(&out.stderr));
    let out = truk().arg("check").arg("--lib").arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn new_project_builds_tests_and_runs() {
    let d = Scratch::new("new");
    let out = truk().current_dir(&d.0).args(["new", "hello"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = d.0.join("hello");
    let readme = std::fs::read_to_string(p.join("README.md")).unwrap();
    assert!(readme.contains("truk build main.truk") && readme.contains("truk test main_test.truk"), "{readme}");
    let run = truk().current_dir(&p).args(["run", "main.truk"]).output().unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), "Hello, world!\n");
    let test = truk().current_dir(&p).args(["test", "main_test.truk"]).output().unwrap();
    assert!(test.status.success(), "{}{}", text(&test.stdout), text(&test.stderr));
    assert!(text(&test.stdout).contains("[PASS] test_greeting"), "{}", text(&test.stdout));
    // Again: the folder is not empty now, and nothing in it changes.
    std::fs::write(p.join("main.truk"), "// mine\n").unwrap();
    let again = truk().current_dir(&d.0).args(["new", "hello"]).output().unwrap();
    assert!(!again.status.success());
    assert_eq!(text(&again.stderr), "error: `hello` already exists and is not empty\n");
    assert_eq!(std::fs::read_to_string(p.join("main.truk")).unwrap(), "// mine\n");
}

#[test]
fn new_in_an_empty_folder_fills_it() {
    let d = Scratch::new("new-empty");
    std::fs::create_dir(d.0.join("empty")).unwrap();
    let out = truk().current_dir(d.0.join("empty")).args(["new", "."]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.0.join("empty/main_test.truk").is_file());
    let readme = std::fs::read_to_string(d.0.join("empty/README.md")).unwrap();
    assert!(readme.starts_with("# empty\n"), "{readme}");
}

/// `truk` copied without `truk-compiler`: fleet commands still work, and a build says what is
/// missing and why, in one error and a hint.
#[test]
fn a_truk_copied_alone_names_the_compiler_it_needs() {
    let d = Scratch::new("truk-alone");
    let alone = d.0.join("truk");
    std::fs::copy(env!("CARGO_BIN_EXE_truk"), &alone).unwrap();
    let src = d.write("main.truk", "fn main() : i32 {\n  return 0;\n}\n");
    let o = std::process::Command::new(&alone).arg("build").arg(&src).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: cannot run the compiler "), "{err}");
    assert!(err.contains("keep the two in one folder"), "{err}");
    let o = std::process::Command::new(&alone).args(["fleet", "ls", "--ns", "truk-alone-test"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// The light `truk` links no LLVM, statically or dynamically: fleet commands and no-change
/// rebuilds start without loading it. It uses truk-core only; any use of the `truk` library
/// would bring LLVM's code and static constructors in. The compiler beside it links LLVM,
/// so the checks can see it.
#[test]
fn the_light_truk_links_no_llvm() {
    use object::{Object, ObjectSection, ObjectSymbol};
    let light = std::path::PathBuf::from(env!("CARGO_BIN_EXE_truk"));
    let compiler = light.with_file_name("truk-compiler");
    // LLVM's C API (`LLVMContextCreate`) and its C++ namespace (`llvm::`, mangled `_ZN4llvm`
    // or `_ZNK4llvm`), defined here or wanted from a shared library.
    let llvm_symbols = |bin: &std::path::Path| {
        let data = std::fs::read(bin).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let is_llvm = |n: &str| n.starts_with("LLVM") || n.starts_with("_ZN4llvm") || n.starts_with("_ZNK4llvm");
        let names: Vec<String> = file.symbols().chain(file.dynamic_symbols()).filter_map(|s| s.name().ok().filter(|n| is_llvm(n)).map(String::from)).collect();
        let text = file.section_by_name(".text").map(|s| s.size()).unwrap_or(0);
        (names, text)
    };
    let (in_light, light_text) = llvm_symbols(&light);
    assert!(in_light.is_empty(), "the light truk links LLVM: {:?}", &in_light[..in_light.len().min(5)]);
    let (in_compiler, compiler_text) = llvm_symbols(&compiler);
    assert!(in_compiler.iter().any(|n| n == "LLVMContextCreate"), "{:?}", &in_compiler[..in_compiler.len().min(5)]);
    // About 1.3 MB of code; the compiler, LLVM linked in statically, has 37 MB.
    assert!(light_text < 8 << 20, "the light truk has {light_text} bytes of code (the compiler {compiler_text})");
    let o = std::process::Command::new("ldd").arg(&light).output().expect("ldd runs");
    assert!(o.status.success() && text(&o.stdout).contains("libc.so") && !text(&o.stdout).contains("LLVM"), "{}", text(&o.stdout));
}
