//! Driving the system toolchain: the C runtime (compiled and cached) and the final link.
pub mod link;
pub mod runtime;
pub mod build;
pub mod cshim;
pub mod stdlib;
pub mod target;
pub mod tools;
pub mod fresh;
pub mod codegen;
