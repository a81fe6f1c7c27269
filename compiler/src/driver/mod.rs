//! Driving LLVM and the system toolchain. The LLVM-free parts are truk-core's, re-exported
//! under their old paths.
pub mod build;
pub mod codegen;
pub mod inline_rt;
pub mod opt_split;
pub use truk_core::driver::{cshim, fresh, link, runtime, stdlib, target, tools};
