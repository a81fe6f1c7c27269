//! What the editor tests share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The compiler's reserved words (its `kw_*` rules), read from its grammar.
pub fn compiler_keywords() -> Vec<String> {
    let pest = std::fs::read_to_string(project_root().join("compiler-core/src/syntax/truk.pest")).unwrap();
    pest.lines()
        .filter(|l| l.starts_with("kw_") && !l.starts_with("kw_stmt_start"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect()
}
