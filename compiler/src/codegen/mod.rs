//! HIR -> LLVM IR, and the fingerprint note.
pub mod emit;
pub mod parts;
pub mod note;
