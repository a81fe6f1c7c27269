//! The standard library: the Truk files of the project's `std/` folder, compiled into the
//! `truk` binary (so an installed compiler needs no files beside it). `import "testing"`
//! (or `"testing.truk"`) loads `std/testing.truk` when neither the importing file's folder
//! nor an `-I` folder holds a file of that name. So do `io`, `str`, `os` and `mem`.

use std::path::{Path, PathBuf};

/// Loaded std files get paths under this pseudo-folder, which names no real folder.
pub const PREFIX: &str = "<std>";

const FILES: &[(&str, &str)] = &[
    ("testing.truk", include_str!("../../../std/testing.truk")),
    ("supervisor.truk", include_str!("../../../std/supervisor.truk")),
    ("io.truk", include_str!("../../../std/io.truk")),
    ("str.truk", include_str!("../../../std/str.truk")),
    ("os.truk", include_str!("../../../std/os.truk")),
    ("mem.truk", include_str!("../../../std/mem.truk")),
];

/// The path of the std module an import names, if there is one.
pub fn resolve(rel: &str) -> Option<PathBuf> {
    let name = rel.strip_suffix(".truk").unwrap_or(rel);
    FILES.iter().find(|(f, _)| f.strip_suffix(".truk") == Some(name)).map(|(f, _)| Path::new(PREFIX).join(f))
}

/// The text of a std path made by `resolve`; `None` for any other path.
pub fn source(path: &Path) -> Option<&'static str> {
    let file = path.strip_prefix(PREFIX).ok()?;
    FILES.iter().find(|(f, _)| Path::new(f) == file).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testing_resolves_with_or_without_extension() {
        let p = resolve("testing").unwrap();
        assert_eq!(resolve("testing.truk"), Some(p.clone()));
        assert!(source(&p).unwrap().contains("__truk_test_assert_i32"));
        assert_eq!(resolve("nothing"), None);
        assert_eq!(source(Path::new("testing.truk")), None);
    }

    #[test]
    fn every_module_resolves() {
        for m in ["io", "str", "os", "mem", "supervisor"] {
            assert!(source(&resolve(m).unwrap()).is_some_and(|t| !t.is_empty()), "{m}");
        }
    }
}
