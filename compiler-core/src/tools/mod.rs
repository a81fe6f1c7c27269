//! The commands around the compiler: `truk check`, `truk new`, `truk fmt` (`fmt/`) and
//! `truk lsp` (`lsp/`). They reuse the compiler's stages; none runs LLVM.

pub mod check;
pub mod new;
