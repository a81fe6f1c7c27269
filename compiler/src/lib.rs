//! truk: the compiler for the Truk language. See ARCHITECTURE.md for the map of stages.
pub mod diag;
pub mod driver;
pub mod syntax;
pub mod hir;
pub mod codegen;
