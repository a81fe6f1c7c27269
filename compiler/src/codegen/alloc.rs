//! `make(@T)` and `delete` on libc's allocator, called directly.

use inkwell::module::Linkage;
use inkwell::types::FunctionType;
use inkwell::values::{FunctionValue, PointerValue};

use super::Emitter;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// libc's `name` of type `fty`, called directly (no runtime wrapper on the path of every
    /// `make(@T)` and `delete`), unless the program has a function of that name of its own
    /// or of another type: then None, and the runtime's wrapper is called. (Release builds
    /// keep LLVM from folding malloc and the zeroing into calloc: `driver/codegen.rs`.)
    pub(super) fn libc_fn(&self, name: &str, fty: FunctionType<'ctx>) -> Option<FunctionValue<'ctx>> {
        if self.prog.funcs.iter().any(|f| f.symbol == name && !f.is_extern) {
            return None;
        }
        match self.module.get_function(name) {
            Some(f) if f.get_type() == fty => Some(f),
            Some(_) => None,
            None => Some(self.module.add_function(name, fty, Some(Linkage::External))),
        }
    }

    /// A null result of malloc is the panic `out of memory` (a cold, noreturn call).
    pub(super) fn check_allocated(&mut self, p: PointerValue<'ctx>) {
        let (oom, ok) = self.check_blocks("oom", "allocated");
        self.b.build_conditional_branch(self.b.build_is_null(p, "").unwrap(), oom, ok).unwrap();
        self.b.position_at_end(oom);
        let f = self.rt("__truk_out_of_memory", &[], None);
        self.b.build_call(f, &[], "").unwrap();
        self.b.build_unreachable().unwrap();
        self.b.position_at_end(ok);
    }
}
