// What LLVM's C API does not reach, for driver/build.rs (`target_machine`). Built by
// compiler/build.rs against the headers of the LLVM that inkwell links.
#include "llvm-c/TargetMachine.h"
#include "llvm/Target/TargetMachine.h"

// Emit every relaxable instruction (x86 branches) in its long form at once. Unoptimized
// code is full of short branches, and each DWARF line step after one is an address
// difference the assembler must re-resolve on every relaxation pass; with all of them
// relaxed, layout takes one pass. (clang did the same at -O0 for years: -mrelax-all.)
extern "C" void truk_tm_relax_all(LLVMTargetMachineRef tm) {
  // LLVM's C API wraps a TargetMachine* as LLVMTargetMachineRef by reinterpret_cast.
  reinterpret_cast<llvm::TargetMachine *>(tm)->Options.MCOptions.MCRelaxAll = true;
}
