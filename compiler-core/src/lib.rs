//! truk-core: the part of the Truk compiler that needs no LLVM (see ARCHITECTURE.md): the
//! stages up to MIR, diagnostics, fingerprints, the tools, and the driving of the C toolchain.
//! The `truk` crate adds codegen and re-exports these modules under their old paths.
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
