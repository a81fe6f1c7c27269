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
        let null = self.b.build_is_null(p, "").unwrap();
        self.fail_if(null, true, ("oom", "allocated"), "__truk_out_of_memory", &[], None);
    }
}
