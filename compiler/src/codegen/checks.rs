//! The checks codegen adds: bounds (left out where `mir/bounds.rs` proves the index in
//! bounds) and, in debug builds, nil; `fail_if` is every check's branch to its failure (these,
//! division's, a failed allocation's). Each failure is a cold call that does not return:
//! optimized builds give each site its own; unoptimized builds give each function one block per
//! kind of failure, which every site of that kind branches to, passing its values (the index,
//! the length, its line and column) through phis.
//! Where loop versioning left a function a test that restarts it (`Terminator::Restart`), the
//! function as written is a copy of its own, which the test's failure calls.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

use super::Emitter;
use crate::diag::Span;
use crate::hir::{Expr, Ty};
use crate::mir;

/// Unoptimized builds: a function's failure block of one kind (the runtime's `failure`, for the
/// sites of one file), whose phis take each site's values.
pub(super) struct SharedFail<'ctx> {
    failure: &'static str,
    file: Option<u32>,
    block: BasicBlock<'ctx>,
    phis: Vec<PhiValue<'ctx>>,
}

/// Debug builds: the pointers known not nil at the point of emission, which then get no nil
/// check. A pointer is an LLVM value, defined once (an unchanged parameter read as its
/// argument): it stays checked in the code its check dominates. Kept simple: the checks
/// earlier in the same MIR block, in the entry block (which every block follows) and in a
/// block's only predecessor when emitted before it. (Codegen's own branches within a
/// statement, in maps and tables, evaluate none of the program's expressions.)
#[derive(Default)]
pub(super) struct NilFacts<'ctx> {
    here: Vec<PointerValue<'ctx>>,
    /// Per MIR block: the pointers checked by its end (empty until it is emitted).
    at_end: Vec<Vec<PointerValue<'ctx>>>,
    /// Per MIR block: its predecessor, if it has only one (several edges from one count once).
    only_pred: Vec<Option<usize>>,
}

impl<'ctx> NilFacts<'ctx> {
    pub(super) fn begin(&mut self, body: &mir::Body, forward: &[Option<mir::BlockId>]) {
        let n = body.blocks.len();
        let (mut preds, mut only) = (vec![0u32; n], vec![None; n]);
        for (b, block) in body.blocks.iter().enumerate() {
            if forward[b].is_some() {
                continue;
            }
            // A jump to a block that only jumps on goes where that one goes.
            let mut succ: Vec<usize> = block.term.successors().into_iter().map(|s| forward[s as usize].unwrap_or(s) as usize).collect();
            succ.sort_unstable();
            succ.dedup();
            for s in succ {
                preds[s] += 1;
                only[s] = Some(b);
            }
        }
        self.only_pred = only.into_iter().zip(&preds).map(|(p, &n)| p.filter(|_| n == 1)).collect();
        self.at_end.clear();
        self.at_end.resize(n, vec![]);
        self.here.clear();
    }

    pub(super) fn enter(&mut self, b: usize) {
        self.here.clear();
        if b == 0 || self.at_end.is_empty() {
            return;
        }
        self.here.extend_from_slice(&self.at_end[0]);
        if let Some(p) = self.only_pred[b].filter(|&p| p != 0 && p < b) {
            self.here.extend_from_slice(&self.at_end[p]);
        }
    }

    pub(super) fn leave(&mut self, b: usize) {
        if let Some(end) = self.at_end.get_mut(b) {
            end.clone_from(&self.here);
        }
    }
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// The address of `b[i]` (`e`), checked unless proven in bounds.
    pub(super) fn index_place(&mut self, e: &'p Expr, b: &'p Expr, i: &'p Expr) -> PointerValue<'ctx> {
        let checked = !self.unchecked.contains(&(e as *const Expr));
        let span = e.span;
        match &b.ty {
            Ty::Array(n, el) => {
                let base = self.place(b);
                let idx = self.rvalue(i).unwrap().into_int_value();
                let elt = self.mty(el);
                self.checked_element(checked, elt, base, idx, self.i64c(*n), span)
            }
            Ty::Slice(el) => {
                let (ptr, len) = self.slice_parts(b);
                let idx = self.rvalue(i).unwrap().into_int_value();
                let elt = self.mty(el);
                self.checked_element(checked, elt, ptr, idx, len, span)
            }
            Ty::Ptr(el) => {
                let p = self.rvalue(b).unwrap().into_pointer_value();
                let idx = self.rvalue(i).unwrap().into_int_value();
                let elt = self.mty(el);
                unsafe { self.b.build_gep(elt, p, &[idx], "").unwrap() }
            }
            _ => unreachable!("index of a non-indexable type passed the checker"),
        }
    }

    /// The address of element `idx` of `len` at `base`, after the bounds check when `checked`.
    /// Unoptimized code computes the address before the check's branch: what crosses into
    /// the next block, which the fast register allocator keeps in a stack slot, is then the
    /// address alone rather than both the base and the index (one reload less per check).
    /// The failure path does not use it (there it may be out of bounds, a poison value).
    fn checked_element(&mut self, checked: bool, elt: BasicTypeEnum<'ctx>, base: PointerValue<'ctx>, idx: IntValue<'ctx>, len: IntValue<'ctx>, span: Span) -> PointerValue<'ctx> {
        let gep = |s: &Self| unsafe { s.b.build_in_bounds_gep(elt, base, &[idx], "").unwrap() };
        if !checked {
            return gep(self);
        }
        if self.optimized() {
            self.bounds_check(idx, len, span);
            return gep(self);
        }
        let at = gep(self);
        self.bounds_check(idx, len, span);
        at
    }

    fn bounds_check(&mut self, idx: IntValue<'ctx>, len: IntValue<'ctx>, span: Span) {
        let ok = self.b.build_int_compare(IntPredicate::ULT, idx, len, "inbounds").unwrap();
        if ok.get_zero_extended_constant() == Some(1) {
            // A constant index within a fixed length: nothing to check.
            return;
        }
        self.fail_if(ok, false, ("oob", "ok"), "__truk_bounds_fail", &[idx.into(), len.into()], Some(span));
    }

    pub(super) fn nil_check(&mut self, ptr: PointerValue<'ctx>, span: Span) {
        if self.nonnil.here.contains(&ptr) {
            return;
        }
        self.nonnil.here.push(ptr);
        let nil = self.b.build_is_null(ptr, "isnil").unwrap();
        self.fail_if(nil, true, ("nil", "notnil"), "__truk_nil_fail", &[], Some(span));
    }

    /// Whether the function's check sites of one kind share one failure call: in unoptimized
    /// builds without debug information. A debugger names a caller's line from the call's
    /// return address, which a shared call cannot tell apart by site (with line 0, gdb shows
    /// the line before it, another check's): builds with line tables keep a call per site,
    /// so that a backtrace from a panic shows the line that failed.
    fn shares_failures(&self) -> bool {
        !self.optimized() && self.dwarf.is_none()
    }

    /// Where `cond` is `fails_when`, the runtime's `failure`, called with `args` and (with a
    /// span) the place of `span`; the code goes on in a new block right after this one, so
    /// that the branch falls through to it (unoptimized code keeps blocks in this order: no
    /// jump to the next line). `names`: the failure's block and the one that goes on.
    pub(super) fn fail_if(&mut self, cond: IntValue<'ctx>, fails_when: bool, names: (&str, &str), failure: &'static str, args: &[BasicValueEnum<'ctx>], span: Option<Span>) {
        let here = self.b.get_insert_block().unwrap();
        let cont = self.ctx.insert_basic_block_after(here, names.1);
        let fail = if !self.shares_failures() {
            // Last in the function (cold).
            let fail = self.ctx.append_basic_block(self.cur_fn.unwrap(), names.0);
            self.b.position_at_end(fail);
            self.fail_call(failure, args, span);
            self.b.position_at_end(here);
            fail
        } else {
            let i = self.shared_fail(names.0, failure, args, span);
            let site = span.map(|s| BasicValueEnum::from(self.line_col(s)));
            for (phi, v) in self.fails[i].phis.iter().zip(args.iter().chain(&site)) {
                phi.add_incoming(&[(v, here)]);
            }
            self.fails[i].block
        };
        let (then, other) = if fails_when { (fail, cont) } else { (cont, fail) };
        self.b.build_conditional_branch(cond, then, other).unwrap();
        self.b.position_at_end(cont);
    }

    /// The index in `fails` of the current function's failure block of `failure` (for
    /// `span`'s file), made on first use: last in the function, a phi per argument and one
    /// for the site's line and column, then the call.
    fn shared_fail(&mut self, name: &str, failure: &'static str, args: &[BasicValueEnum<'ctx>], span: Option<Span>) -> usize {
        let (fv, file) = (self.cur_fn.unwrap(), span.map(|s| s.file));
        if let Some(i) = self.fails.iter().position(|f| f.failure == failure && f.file == file) {
            return i;
        }
        let block = self.ctx.append_basic_block(fv, name);
        // The entry builder, which every use positions anew (`position_entry_builder`).
        let b = &self.entry_b;
        b.position_at_end(block);
        let i64t = self.ctx.i64_type();
        let types: Vec<BasicTypeEnum> = args.iter().map(|a| a.get_type()).chain(span.map(|_| i64t.into())).collect();
        let phis: Vec<PhiValue> = types.iter().map(|&t| b.build_phi(t, "").unwrap()).collect();
        let vals: Vec<BasicMetadataValueEnum> = phis.iter().map(|p| p.as_basic_value().into()).collect();
        let callee = match span {
            Some(span) => self.fail_stub(failure, &types, span.file),
            None => self.rt(failure, &[], None),
        };
        self.entry_b.build_call(callee, &vals, "").unwrap();
        self.entry_b.build_unreachable().unwrap();
        self.fails.push(SharedFail { failure, file, block, phis });
        self.fails.len() - 1
    }

    /// At the end of a function: a shared failure block that one site alone reaches takes
    /// that site's values as they are (a constant, such as its line and column, is then an
    /// immediate of the call rather than a value the site's block hands on).
    pub(super) fn finish_fails(&mut self) {
        for f in self.fails.drain(..) {
            for phi in f.phis {
                if phi.count_incoming() != 1 {
                    break;
                }
                if let (BasicValueEnum::IntValue(v), Some((BasicValueEnum::IntValue(only), _))) = (phi.as_basic_value(), phi.get_incoming(0)) {
                    v.replace_all_uses_with(only);
                    phi.as_instruction().erase_from_basic_block();
                }
            }
        }
    }

    /// A failed check's call of the runtime's `failure` with `args` and the place of `span`,
    /// from its own block: the runtime's function directly (optimized builds), or the stub of
    /// `span`'s file with the site's line and column as an immediate.
    fn fail_call(&mut self, failure: &str, args: &[BasicValueEnum<'ctx>], span: Option<Span>) {
        let mut vals: Vec<BasicValueEnum> = args.to_vec();
        let callee = match span {
            Some(span) if !self.optimized() => {
                vals.push(self.line_col(span).into());
                let types: Vec<BasicTypeEnum> = vals.iter().map(|v| v.get_type()).collect();
                self.fail_stub(failure, &types, span.file)
            }
            _ => {
                vals.extend(span.map(|s| self.site(s)).into_iter().flatten());
                let params: Vec<BasicMetadataTypeEnum> = vals.iter().map(|a| a.get_type().into()).collect();
                self.rt(failure, &params, None)
            }
        };
        let vals: Vec<BasicMetadataValueEnum> = vals.into_iter().map(Into::into).collect();
        self.b.build_call(callee, &vals, "").unwrap();
        self.b.build_unreachable().unwrap();
    }

    /// Unoptimized builds call a failure through this module's stub for the sites' file
    /// (`FAILURE.fN`), which adds the file's name: a site's line and column are one
    /// immediate, and the call is within its own section, so it needs no address and no
    /// relocation (the stub is one more frame in a backtrace). Optimized builds call the
    /// runtime directly: the stubs measured no cheaper there. `types`: the failure's
    /// arguments, then the line and column.
    fn fail_stub(&mut self, failure: &str, types: &[BasicTypeEnum<'ctx>], file: u32) -> FunctionValue<'ctx> {
        let name = format!("{failure}.f{file}");
        if let Some(f) = self.module.get_function(&name) {
            return f;
        }
        let mut params: Vec<BasicMetadataTypeEnum> = types.iter().map(|&t| t.into()).collect();
        let stub = self.module.add_function(&name, self.ctx.void_type().fn_type(&params, false), Some(Linkage::Internal));
        // Not nounwind: it keeps its unwind table, which debuggers walk through.
        for attr in ["noreturn", "cold", "noinline"] {
            stub.add_attribute(AttributeLoc::Function, self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(attr), 0));
        }
        let nargs = types.len() - 1;
        params.insert(nargs, self.ptr().into());
        let rt = self.rt(failure, &params, None);
        let path = self.sources.file(file).path.display().to_string();
        let mut vals: Vec<BasicMetadataValueEnum> = stub.get_param_iter().map(|p| p.into()).collect();
        vals.insert(nargs, self.string(path.as_bytes()).into());
        let b = self.ctx.create_builder();
        b.position_at_end(self.ctx.append_basic_block(stub, ""));
        b.build_call(rt, &vals, "").unwrap();
        b.build_unreachable().unwrap();
        stub
    }

    /// The copy of `fv` as written (every check kept) that a failed versioning test runs:
    /// internal, cold and never inlined, so that `fv` stays as small as its fast loop.
    pub(super) fn checked_copy(&mut self, fv: FunctionValue<'ctx>) -> FunctionValue<'ctx> {
        let name = format!("{}.checked", fv.get_name().to_string_lossy());
        let copy = self.module.add_function(&name, fv.get_type(), Some(Linkage::Internal));
        for attr in ["cold", "noinline"] {
            copy.add_attribute(AttributeLoc::Function, self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(attr), 0));
        }
        let mut locs = vec![AttributeLoc::Return];
        locs.extend((0..fv.count_params()).map(AttributeLoc::Param));
        for loc in locs {
            for a in fv.attributes(loc) {
                copy.add_attribute(loc, a);
            }
        }
        copy
    }

    /// `Terminator::Restart`: the copy as written, called with this call's own arguments,
    /// returns what the function returns.
    pub(super) fn restart(&mut self) {
        let (fv, copy) = (self.cur_fn.unwrap(), self.restart_fn.expect("a restart outside a function with its checked copy"));
        let args: Vec<BasicMetadataValueEnum> = fv.get_param_iter().map(|p| p.into()).collect();
        let call = self.b.build_call(copy, &args, "").unwrap();
        call.set_tail_call(true);
        match call.try_as_basic_value().basic() {
            Some(v) => self.b.build_return(Some(&v)).unwrap(),
            None => self.b.build_return(None).unwrap(),
        };
    }
}
