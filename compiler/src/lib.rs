//! truk: the compiler for the Truk language. See ARCHITECTURE.md for the map of stages.
//! Codegen and the LLVM stages of the driver are here; the rest is the `truk-core` crate,
//! re-exported under the paths it had here.
pub mod codegen;
pub mod driver;
pub use truk_core::{diag, fingerprint, fmt, fpread, hir, lsp, mir, syntax, tools};
#[cfg(test)]
mod core_tests;
