//! `truk new NAME`: a project skeleton: a hello-world `main.truk`, a test file and a README
//! that says how to build, test and run it.

use std::path::Path;

const MAIN: &str = r#"cimport <stdio.h>;

extern fn printf(fmt: *i8, ...args) : i32;

fn greeting() : *i8 {
  return "Hello, world!";
}

fn main() : i32 {
  printf("%s\n", greeting());
  return 0;
}
"#;

const TEST: &str = r#"import "testing";
import "main.truk";

fn test_greeting(t: *__truk_test_context_s) : void {
  __truk_test_assert_ptr_ne_nil(t, greeting() as *void, "greeting() is a string");
  __truk_test_assert_u8(t, 'H', *(greeting() as *u8), "it starts with H");
}
"#;

/// Create the folder `dir` with the skeleton. Refuses a folder that exists and is not empty
/// (nothing is written then).
pub fn new_project(dir: &Path) -> Result<(), String> {
    // `truk new .` names the project after the current folder.
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(format!("error: `{}` already exists and is not empty", dir.display()));
        }
    } else if dir.exists() {
        return Err(format!("error: `{}` already exists and is not a folder", dir.display()));
    }
    let readme = format!(
        "# {name}\n\nBuild with `truk build main.truk`, test with `truk test main_test.truk`, run with `truk run main.truk`.\n"
    );
    let write = |file: &str, text: &str| {
        std::fs::write(dir.join(file), text).map_err(|e| format!("error: cannot write {}: {e}", dir.join(file).display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("error: cannot create {}: {e}", dir.display()))?;
    write("main.truk", MAIN)?;
    write("main_test.truk", TEST)?;
    write("README.md", &readme)
}
