// What LLVM's C API does not reach, for driver/build.rs (`target_machine`). Built by
// compiler/build.rs against the headers of the LLVM that inkwell links.
#include "llvm-c/Core.h"
#include "llvm-c/TargetMachine.h"
#include "llvm/CodeGen/MachineModuleInfo.h"
#include "llvm/CodeGen/Passes.h"
#include "llvm/CodeGen/TargetPassConfig.h"
#include "llvm/IR/DebugProgramInstruction.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

// Emit every relaxable instruction (x86 branches) in its long form at once. Unoptimized
// code is full of short branches, and each DWARF line step after one is an address
// difference the assembler must re-resolve on every relaxation pass; with all of them
// relaxed, layout takes one pass. (clang did the same at -O0 for years: -mrelax-all.)
extern "C" void truk_tm_relax_all(LLVMTargetMachineRef tm) {
  // LLVM's C API wraps a TargetMachine* as LLVMTargetMachineRef by reinterpret_cast.
  reinterpret_cast<llvm::TargetMachine *>(tm)->Options.MCOptions.MCRelaxAll = true;
}

// Whether every debug variable of `m` is declared on a static alloca (what debug builds
// emit): no dbg.value, no declare of anything else. Either kind of debug intrinsic counts,
// as a call or as a debug record.
static bool only_slot_variables(const llvm::Module &m) {
  auto on_slot = [](const llvm::Value *addr) {
    auto *slot = llvm::dyn_cast_or_null<llvm::AllocaInst>(addr);
    return slot && slot->isStaticAlloca();
  };
  for (const llvm::Function &f : m) {
    for (const llvm::BasicBlock &b : f) {
      for (const llvm::Instruction &i : b) {
        for (const llvm::DbgVariableRecord &r : llvm::filterDbgVars(i.getDbgRecordRange())) {
          if (r.getType() != llvm::DbgVariableRecord::LocationType::Declare || !on_slot(r.getAddress())) return false;
        }
        if (auto *d = llvm::dyn_cast<llvm::DbgVariableIntrinsic>(&i)) {
          auto *declare = llvm::dyn_cast<llvm::DbgDeclareInst>(d);
          if (!declare || !on_slot(declare->getAddress())) return false;
        }
      }
    }
  }
  return true;
}

// Write `m`'s object (or assembly) code to `path`, as LLVMTargetMachineEmitToFile does, but
// without LiveDebugValues when the code generator is unoptimized and every variable lives in
// a stack slot (a dbg.declare of a static alloca: a frame-index location for the whole
// function, kept outside the instruction stream). That pass then finds no DBG_VALUE to
// extend, yet walks every machine instruction of every function (a tenth of a debug build's
// codegen). Returns 0, or 1 with a message in `*err` (free with LLVMDisposeMessage).
extern "C" int truk_emit_file(LLVMTargetMachineRef tmr, LLVMModuleRef mr, const char *path, int assembly, char **err) {
  auto *tm = reinterpret_cast<llvm::LLVMTargetMachine *>(tmr);
  llvm::Module *m = llvm::unwrap(mr);
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    *err = LLVMCreateMessage(ec.message().c_str());
    return 1;
  }
  m->setDataLayout(tm->createDataLayout());
  llvm::legacy::PassManager pm;
  auto *mmi = new llvm::MachineModuleInfoWrapperPass(tm);
  llvm::TargetPassConfig *config = tm->createPassConfig(pm);
  config->setDisableVerify(true);
  if (tm->getOptLevel() == llvm::CodeGenOptLevel::None && only_slot_variables(*m)) {
    config->disablePass(&llvm::LiveDebugValuesID);
  }
  pm.add(config);
  pm.add(mmi);
  auto type = assembly ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if (config->addISelPasses()) {
    *err = LLVMCreateMessage("cannot set up instruction selection");
    return 1;
  }
  config->addMachinePasses();
  config->setInitialized();
  if (tm->addAsmPrinter(pm, out, nullptr, type, mmi->getMMI().getContext())) {
    *err = LLVMCreateMessage("the target cannot emit a file of this type");
    return 1;
  }
  pm.add(llvm::createFreeMachineFunctionPass());
  pm.run(*m);
  out.flush();
  if (out.has_error()) {
    *err = LLVMCreateMessage(out.error().message().c_str());
    out.clear_error();
    return 1;
  }
  return 0;
}

// Turn function `f` into a declaration (external linkage): what a part of a split optimized
// build does with the functions other parts define (`driver/opt_split.rs`).
extern "C" void truk_delete_body(LLVMValueRef f) {
  llvm::unwrap<llvm::Function>(f)->deleteBody();
}
