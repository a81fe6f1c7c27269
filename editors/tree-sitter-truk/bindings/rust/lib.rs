//! The Truk grammar for tree-sitter: `LANGUAGE` for a `tree_sitter::Parser`, and the
//! highlight queries.

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_truk() -> *const ();
}

/// The tree-sitter language of Truk.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_truk) };

/// The syntax highlighting queries (`queries/highlights.scm`).
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The node types of the grammar (`src/node-types.json`).
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");
