//! Driving the system toolchain without LLVM: loading sources, the C runtime (compiled and
//! cached), the C shim, the link, the no-change rebuild. The `truk` crate's driver adds the
//! LLVM stages.
pub mod build;
pub mod cshim;
pub mod fresh;
pub mod ld;
pub mod link;
pub mod runtime;
pub mod stdlib;
pub mod target;
pub mod tools;
