//! What the integration tests that drive the `truk` binary share.
#![allow(dead_code)] // each test file uses its own part of it

use std::path::PathBuf;
use std::process::Command;

/// The `truk` binary that cargo built for these tests.
pub fn truk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_truk"))
}

/// A scratch folder removed when the test ends, even when it fails. Names are unique per
/// test process (each test file is one), so only names within one file must differ.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("truk-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
