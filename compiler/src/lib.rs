//! truk: the compiler for the Truk language. See ARCHITECTURE.md for the map of stages.
pub mod codegen;
pub mod diag;
pub mod driver;
pub mod fingerprint;
pub mod fpread;
pub mod fmt;
pub mod hir;
pub mod lsp;
pub mod mir;
pub mod syntax;
pub mod tools;
