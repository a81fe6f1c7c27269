//! Source files that are not clean text: reported at their place, never a crash.

mod common;
use common::{text, truk, Scratch};

#[test]
fn a_non_utf8_byte_is_an_error_at_its_line_and_column() {
    let dir = Scratch::new("utf8");
    let file = dir.0.join("bad.truk");
    std::fs::write(&file, b"fn main() : i32 {\n  var x: i32 = 1;\n  x = x + \xff\xfe;\n  return x;\n}\n").unwrap();
    let out = truk().args(["build", "--emit", "obj", "-o"]).arg(dir.0.join("bad.o")).arg(&file).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("error: invalid UTF-8 (byte 0xff): source files must be UTF-8 text"), "{err}");
    assert_eq!(lines.next().map(str::trim), Some(format!("--> {}:3:11", file.display()).as_str()), "{err}");
    assert!(err.contains("3 |   x = x + \u{fffd}\u{fffd};\n  |           ^\n"), "{err}");
}
