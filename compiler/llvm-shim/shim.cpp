// What LLVM's C API does not reach, for driver/build.rs (`target_machine`). Built by
// compiler/build.rs against the headers of the LLVM that inkwell links.
#include "llvm-c/Core.h"
#include "llvm-c/TargetMachine.h"
#include "llvm/CodeGen/AsmPrinter.h"
#include "llvm/CodeGen/MachineModuleInfo.h"
#include "llvm/CodeGen/Passes.h"
#include "llvm/CodeGen/TargetPassConfig.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/DebugProgramInstruction.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCAsmBackend.h"
#include "llvm/MC/MCAssembler.h"
#include "llvm/MC/MCCodeEmitter.h"
#include "llvm/MC/MCDwarf.h"
#include "llvm/MC/MCELFStreamer.h"
#include "llvm/MC/MCObjectWriter.h"
#include "llvm/MC/MCSymbol.h"
#include "llvm/MC/TargetRegistry.h"
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

namespace {
// LLVM 19's object streamer puts every line-table row's address step in a fragment of its
// own, which the assembler's layout then evaluates on each of its passes (a symbol
// difference, about 500 instructions), though the two addresses of almost every step lie in
// one fragment of code, whose size is final: at 10k lines, 8,700 such rows per debug build.
// This streamer writes a step within one fragment at once, as later LLVMs do; a step across
// fragments still gets one. The object is the same byte for byte.
class LineStreamer final : public llvm::MCELFStreamer {
public:
  using llvm::MCELFStreamer::MCELFStreamer;

  void emitDwarfAdvanceLineAddr(int64_t line_delta, const llvm::MCSymbol *last, const llvm::MCSymbol *label, unsigned pointer_size) override {
    if (last && !last->isVariable() && !label->isVariable()) {
      const llvm::MCFragment *f = last->getFragment();
      if (f && f == label->getFragment()) {
        llvm::SmallString<16> bytes;
        llvm::MCDwarfLineAddr::encode(getContext(), getAssembler().getDWARFLinetableParams(), line_delta, label->getOffset() - last->getOffset(), bytes);
        emitBytes(bytes);
        return;
      }
    }
    llvm::MCELFStreamer::emitDwarfAdvanceLineAddr(line_delta, last, label, pointer_size);
  }
};

// The code printer of `tm` writing an object to `out` through a LineStreamer: for x86 ELF
// targets only, whose own streamer adds nothing to MCELFStreamer unless instructions are
// padded for branch alignment (never asked for) and whose object target streamer is none.
// Others (AArch64's streamer writes mapping symbols), or on failure: nullptr.
llvm::FunctionPass *line_streamer_printer(llvm::LLVMTargetMachine *tm, llvm::raw_pwrite_stream &out, llvm::MCContext &ctx) {
  const llvm::Triple &triple = tm->getTargetTriple();
  if (!triple.isX86() || !triple.isOSBinFormatELF()) return nullptr;
  const llvm::Target &target = tm->getTarget();
  llvm::MCCodeEmitter *emitter = target.createMCCodeEmitter(*tm->getMCInstrInfo(), ctx);
  if (!emitter) return nullptr;
  std::unique_ptr<llvm::MCCodeEmitter> owned_emitter(emitter);
  llvm::MCAsmBackend *backend = target.createMCAsmBackend(*tm->getMCSubtargetInfo(), *tm->getMCRegisterInfo(), tm->Options.MCOptions);
  if (!backend) return nullptr;
  std::unique_ptr<llvm::MCAsmBackend> owned_backend(backend);
  auto writer = backend->createObjectWriter(out);
  std::unique_ptr<llvm::MCStreamer> streamer(new LineStreamer(ctx, std::move(owned_backend), std::move(writer), std::move(owned_emitter)));
  return target.createAsmPrinter(*tm, std::move(streamer));
}
} // namespace

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
  // Machine passes for what Truk never asks for (XRay, -pg's fentry, patchable entries,
  // funclets, stack maps, statepoints, sanitizer metadata): no-ops on every function, each
  // still costing the legacy pass manager's bookkeeping (about 1,200 instructions a function).
  for (const void *id : {&llvm::FEntryInserterID, &llvm::XRayInstrumentationID, &llvm::PatchableFunctionID,
                         &llvm::FuncletLayoutID, &llvm::StackMapLivenessID, &llvm::FixupStatepointCallerSavedID,
                         &llvm::MachineSanitizerBinaryMetadataID}) {
    config->disablePass(id);
  }
  if (tm->getOptLevel() == llvm::CodeGenOptLevel::None && only_slot_variables(*m)) {
    config->disablePass(&llvm::LiveDebugValuesID);
    // Nor is there a DBG_VALUE to find redundant (the same walk, 0.4% of a debug build).
    config->disablePass(&llvm::RemoveRedundantDebugValuesID);
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
  llvm::FunctionPass *printer = assembly ? nullptr : line_streamer_printer(tm, out, mmi->getMMI().getContext());
  if (printer) {
    pm.add(printer);
  } else if (tm->addAsmPrinter(pm, out, nullptr, type, mmi->getMMI().getContext())) {
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

// Give `m`'s compile units no name tables, as clang does unless asked (-gpubnames): LLVM's C
// API cannot say so, and by default a unit for gdb gets `.debug_pubnames` and
// `.debug_pubtypes` (DWARF 4) or a `.debug_names` index (5), which nothing of ours reads
// (the link builds no gdb index) and which, being in the executable, gdb would trust over the
// units it does not index. Call after the DIBuilder's finalize: each unit is replaced by a copy
// (its fields cannot be changed), which the module's list and the subprograms then name.
extern "C" void truk_no_name_tables(LLVMModuleRef mr) {
  llvm::Module *m = llvm::unwrap(mr);
  llvm::NamedMDNode *units = m->getNamedMetadata("llvm.dbg.cu");
  if (!units) return;
  llvm::DenseMap<llvm::DICompileUnit *, llvm::DICompileUnit *> copies;
  for (unsigned i = 0; i < units->getNumOperands(); i++) {
    auto *cu = llvm::cast<llvm::DICompileUnit>(units->getOperand(i));
    if (cu->getNameTableKind() == llvm::DICompileUnit::DebugNameTableKind::None) continue;
    auto *copy = llvm::DICompileUnit::getDistinct(
        cu->getContext(), cu->getSourceLanguage(), cu->getFile(), cu->getProducer(), cu->isOptimized(), cu->getFlags(),
        cu->getRuntimeVersion(), cu->getSplitDebugFilename(), cu->getEmissionKind(), cu->getEnumTypes(),
        cu->getRetainedTypes(), cu->getGlobalVariables(), cu->getImportedEntities(), cu->getMacros(), cu->getDWOId(),
        cu->getSplitDebugInlining(), cu->getDebugInfoForProfiling(), llvm::DICompileUnit::DebugNameTableKind::None,
        cu->getRangesBaseAddress(), cu->getSysRoot(), cu->getSDK());
    copies[cu] = copy;
    units->setOperand(i, copy);
  }
  if (copies.empty()) return;
  for (llvm::Function &f : *m) {
    llvm::DISubprogram *sp = f.getSubprogram();
    if (!sp) continue;
    auto found = copies.find(sp->getUnit());
    if (found != copies.end()) sp->replaceUnit(found->second);
  }
}
