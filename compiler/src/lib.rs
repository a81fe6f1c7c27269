//! truk: the compiler for the Truk language. See ARCHITECTURE.md for the map of stages.
pub mod diag;
pub mod syntax;
pub mod codegen;
pub mod fingerprint;
pub mod fpread;
