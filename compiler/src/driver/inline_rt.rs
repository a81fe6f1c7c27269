//! Runtime functions that release builds inline into the program: `runtime-c/chan_fast.c`
//! (a channel's busy leased send and receive), compiled to LLVM bitcode by clang 19
//! (`truk_core::driver::runtime::runtime_bitcode`, cached like the runtime's objects) and
//! linked into the module as `available_externally` and `alwaysinline` definitions: LLVM
//! inlines them at every call, with the capacity and element size as constants (most of
//! their tests fold away; on LLVM's own cost model the unfolded body, twice its threshold,
//! was never inlined). The real definitions stay in the runtime's object, and the hidden
//! fleet globals and slow paths they reach resolve when the program is linked. Without
//! clang 19 as the C compiler (`TRUK_CC`), or when the bitcode cannot be made or read, the
//! program calls the runtime.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::{Linkage, Module};
use inkwell::targets::TargetMachine;

/// The functions each bitcode file defines, which the module must only declare (or not use).
const INLINED: &[(&str, &[&str])] = &[("chan_fast.c", &["__truk_chan_send", "__truk_chan_recv"])];

/// Links the runtime bitcode of every function in [`INLINED`] that `module` (triple and data
/// layout set) calls; a no-op when it calls none, or defines a symbol of that name itself.
pub fn link_runtime_bitcode(module: &Module, target: &str, tm: &TargetMachine) {
    for (file, funcs) in INLINED {
        let called = funcs.iter().filter_map(|n| module.get_function(n)).collect::<Vec<_>>();
        if called.is_empty() || called.iter().any(|f| f.count_basic_blocks() > 0) {
            continue;
        }
        let Some(path) = truk_core::driver::runtime::runtime_bitcode(target, file) else { continue };
        let Ok(bc) = Module::parse_bitcode_from_path(&path, module.get_context()) else { continue };
        // Nothing the bitcode defines may be defined here too (the link would fail).
        let defined: Vec<String> = bc.get_functions().filter(|f| f.count_basic_blocks() > 0 && f.get_linkage() == Linkage::External).map(|f| f.get_name().to_string_lossy().into_owned()).collect();
        if defined.iter().any(|n| module.get_function(n).is_some_and(|g| g.count_basic_blocks() > 0)) {
            continue;
        }
        bc.set_triple(&module.get_triple());
        bc.set_data_layout(&module.get_data_layout());
        for f in bc.get_functions() {
            // The program's target machine decides the CPU and features, as for its own code
            // (a callee with features of its own is not inlined).
            for key in ["target-cpu", "target-features", "tune-cpu"] {
                f.remove_string_attribute(AttributeLoc::Function, key);
            }
        }
        // The file's static helpers (always_inline) go into its functions first: nothing
        // internal may come along (a split build's parts would each need it).
        let helpers_gone = bc.run_passes("always-inline", tm, inkwell::passes::PassBuilderOptions::create()).is_ok()
            && bc.get_functions().all(|f| f.count_basic_blocks() == 0 || defined.contains(&f.get_name().to_string_lossy().into_owned()));
        if !helpers_gone {
            continue;
        }
        // LLVMLinkModules2 directly: inkwell's link_in_module leaves a diagnostic handler on
        // the context that points into its stack frame. It consumes `bc` either way.
        // SAFETY: both modules are live and in the same context.
        let failed = unsafe { inkwell::llvm_sys::linker::LLVMLinkModules2(module.as_mut_ptr(), bc.as_mut_ptr()) } != 0;
        std::mem::forget(bc);
        if failed {
            continue;
        }
        let always = module.get_context().create_enum_attribute(Attribute::get_named_enum_kind_id("alwaysinline"), 0);
        for name in &defined {
            if let Some(f) = module.get_function(name) {
                f.set_linkage(Linkage::AvailableExternally);
                f.add_attribute(AttributeLoc::Function, always);
            }
        }
    }
}
