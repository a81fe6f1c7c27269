//! The language side of fleets: which types may live in shared memory, and the type rules
//! of the atomic and fleet builtins (see `shared/spec/fleet.md`, "The language surface").
//!
//! Builtins are predeclared, not reserved: a user function or variable of the same name
//! shadows them, as it shadows `len` or `make`.

use super::check::{err_expr, Checker};
use super::ty::*;
use super::*;
use crate::syntax::ast;

/// `atomic_*(p, ...)` on `p: *T`, T an integer type or bool. Sequentially consistent,
/// lowered inline; they need no fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomicOp {
    Load,
    Store,
    /// `atomic_add`/`atomic_sub`/`atomic_swap` return the previous value.
    Add,
    Sub,
    Swap,
    /// `atomic_cas(p, expected, desired): bool`.
    Cas,
}

/// A builtin lowered to a call of the fleet runtime (`runtime-c/truk_rt.h`, "Fleets").
/// A program that uses one joins its fleet at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FleetFn {
    Lock,
    TryLock,
    Unlock,
    WaitOn,
    Wake,
    FleetSelf,
    FleetSize,
    FleetFirst,
    FleetGeneration,
    Spawn,
    WaitChild,
    // Supervision (`runtime-c/supervise.c`).
    WaitAnyChild,
    SpawnLinked,
    FleetWaitExit,
}

impl FleetFn {
    fn from_name(name: &str) -> Option<FleetFn> {
        Some(match name {
            "lock" => FleetFn::Lock,
            "try_lock" => FleetFn::TryLock,
            "unlock" => FleetFn::Unlock,
            "wait_on" => FleetFn::WaitOn,
            "wake" => FleetFn::Wake,
            "fleet_self" => FleetFn::FleetSelf,
            "fleet_size" => FleetFn::FleetSize,
            "fleet_first" => FleetFn::FleetFirst,
            "fleet_generation" => FleetFn::FleetGeneration,
            "spawn" => FleetFn::Spawn,
            "wait_child" => FleetFn::WaitChild,
            "wait_any_child" => FleetFn::WaitAnyChild,
            "spawn_linked" => FleetFn::SpawnLinked,
            "fleet_wait_exit" => FleetFn::FleetWaitExit,
            _ => return None,
        })
    }

    /// The runtime function it calls (a slice argument is passed as pointer and length).
    pub fn symbol(self) -> &'static str {
        match self {
            FleetFn::Lock => "__truk_mutex_lock_at",
            FleetFn::TryLock => "__truk_mutex_try_lock",
            FleetFn::Unlock => "__truk_mutex_unlock_at",
            FleetFn::WaitOn => "__truk_wait_on",
            FleetFn::Wake => "__truk_wake",
            FleetFn::FleetSelf => "__truk_fleet_self",
            FleetFn::FleetSize => "__truk_fleet_size",
            FleetFn::FleetFirst => "__truk_fleet_first",
            FleetFn::FleetGeneration => "__truk_fleet_generation",
            FleetFn::Spawn => "__truk_spawn",
            FleetFn::WaitChild => "__truk_wait_child",
            FleetFn::WaitAnyChild => "__truk_wait_any_child",
            FleetFn::SpawnLinked => "__truk_spawn_linked",
            FleetFn::FleetWaitExit => "__truk_fleet_wait_exit",
        }
    }

    /// Parameter names and types, and the result type, as the language sees them.
    pub fn signature(self) -> (Vec<(&'static str, Ty)>, Ty) {
        let mutex = || vec![("m", Ty::ptr(Ty::Mutex))];
        match self {
            FleetFn::Lock | FleetFn::TryLock => (mutex(), Ty::Bool),
            FleetFn::Unlock => (mutex(), Ty::Void),
            FleetFn::WaitOn => (vec![("p", Ty::ptr(U32)), ("expected", U32), ("timeout_ms", I64)], Ty::Bool),
            FleetFn::Wake => (vec![("p", Ty::ptr(U32)), ("count", U32)], U32),
            FleetFn::FleetSelf | FleetFn::FleetSize => (vec![], U32),
            FleetFn::FleetFirst => (vec![], Ty::Bool),
            FleetFn::FleetGeneration => (vec![], U64),
            FleetFn::Spawn => (vec![("args", Ty::Slice(Box::new(Ty::ptr(U8))))], I64),
            FleetFn::WaitChild => (vec![("pid", I64)], I32),
            FleetFn::WaitAnyChild => (vec![("timeout_ms", I64)], Ty::Tuple(vec![I64, I32])),
            FleetFn::SpawnLinked => (vec![("args", Ty::Slice(Box::new(Ty::ptr(U8))))], I64),
            FleetFn::FleetWaitExit => (vec![("timeout_ms", I64)], I64),
        }
    }
}

fn atomic_op(name: &str) -> Option<(AtomicOp, usize)> {
    Some(match name {
        "atomic_load" => (AtomicOp::Load, 1),
        "atomic_store" => (AtomicOp::Store, 2),
        "atomic_add" => (AtomicOp::Add, 2),
        "atomic_sub" => (AtomicOp::Sub, 2),
        "atomic_swap" => (AtomicOp::Swap, 2),
        "atomic_cas" => (AtomicOp::Cas, 3),
        _ => return None,
    })
}

/// Why a part of a type cannot be shared.
pub struct Unshareable {
    /// Where, e.g. `table[].next`.
    pub path: String,
    /// What it is, e.g. "a pointer `*Entry`".
    pub what: String,
    /// It holds an address (otherwise it has no known layout).
    pub address: bool,
}

/// Whether a value of `ty` may live in shared memory: `Err` names the first part of it that
/// holds an address or has no known layout.
pub fn shareable(prog: &Program, path: &str, ty: &Ty, show: &dyn Fn(&Ty) -> String) -> Result<(), Unshareable> {
    let addr = |what: &str| Err(Unshareable { path: path.to_string(), what: format!("{what} `{}`", show(ty)), address: true });
    match ty {
        Ty::Int { .. } | Ty::Float { .. } | Ty::Bool | Ty::Enum(_) | Ty::Mutex | Ty::Error => Ok(()),
        // Its element obeys the same rule, checked (once) where the type is written.
        Ty::Chan(..) | Ty::Table(..) => Ok(()),
        Ty::Ptr(_) | Ty::Nil => addr("a pointer"),
        Ty::Slice(_) => addr("a slice"),
        Ty::Map(..) => addr("a map"),
        Ty::Fn { .. } => addr("a function"),
        // Refused elsewhere ("a variable cannot have type void").
        Ty::Void => Ok(()),
        Ty::Array(_, el) => shareable(prog, &format!("{path}[]"), el, show),
        Ty::Tuple(ts) => ts.iter().enumerate().try_for_each(|(i, t)| shareable(prog, &format!("{path}.{i}"), t, show)),
        Ty::Struct(id) => match &prog.structs[*id as usize].fields {
            Some(fields) => fields.iter().try_for_each(|(f, t)| shareable(prog, &format!("{path}.{f}"), t, show)),
            None => Err(Unshareable { path: path.to_string(), what: format!("an opaque extern struct `{}`", show(ty)), address: false }),
        },
    }
}

impl Checker<'_> {
    /// `shared var NAME: T`: refuse types that hold addresses, naming the field at fault.
    pub(super) fn check_shared_type(&mut self, name: &str, ty: &Ty, span: crate::diag::Span) {
        let show = |t: &Ty| self.show(t);
        if let Err(Unshareable { path, what, address }) = shareable(&self.prog, name, ty, &show) {
            let msg = if address {
                format!("shared variable `{name}` cannot hold an address: `{path}` is {what} (addresses differ between the processes of a fleet)")
            } else {
                format!("shared variable `{name}` needs a known layout: `{path}` is {what}")
            };
            self.err(span, msg);
        }
    }

    /// The atomic and fleet builtins. `None`: not one of their names.
    pub(super) fn fleet_builtin(&mut self, name: &str, args: &[ast::Expr], span: crate::diag::Span) -> Option<Expr> {
        if let Some(e) = self.chan_builtin(name, args, span) {
            return Some(e);
        }
        if let Some(e) = self.table_builtin(name, args, span) {
            return Some(e);
        }
        if let Some((op, arity)) = atomic_op(name) {
            return Some(self.atomic(name, op, arity, args, span));
        }
        let f = FleetFn::from_name(name)?;
        let (params, ret) = f.signature();
        if args.len() != params.len() {
            let sig: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {}", self.show(t))).collect();
            let n = match params.len() {
                0 => "no arguments".to_string(),
                n => format!("{n} argument{}", plural(n)),
            };
            self.err(span, format!("`{name}` takes {n} (`{name}({})`), found {}", sig.join(", "), args.len()));
            return Some(err_expr(span));
        }
        let mut out = vec![];
        for (a, (_, p)) in args.iter().zip(&params) {
            let x = self.arg_expr(a, p);
            if *p == Ty::ptr(Ty::Mutex) && !x.ty.is_error() && x.ty != *p {
                let shown = self.show(&x.ty);
                self.err(a.span, format!("`{name}` needs a pointer to a `Mutex` (`{name}(&m)`), found `{shown}`"));
                return Some(err_expr(span));
            }
            out.push(self.coerce(x, p, &format!("Argument type mismatch in `{name}`"), a.span));
        }
        self.prog.uses_fleet = true;
        Some(Expr { kind: ExprKind::Builtin(Builtin::Fleet(f), out), ty: ret, span })
    }

    fn atomic(&mut self, name: &str, op: AtomicOp, arity: usize, args: &[ast::Expr], span: crate::diag::Span) -> Expr {
        if args.len() != arity && args.len() != arity + 1 {
            let rest = ["", ", v", ", expected, desired"][arity - 1];
            self.err(span, format!("`{name}` takes {arity} argument{} (`{name}(p{rest})`) and an optional `Ordering`, found {}", plural(arity), args.len()));
            return err_expr(span);
        }
        let p = self.expr(&args[0], None);
        let elem = match &p.ty {
            Ty::Error => None,
            Ty::Ptr(t) if t.is_int() || (**t == Ty::Bool && !matches!(op, AtomicOp::Add | AtomicOp::Sub)) => Some((**t).clone()),
            Ty::Ptr(t) if **t == Ty::Bool => {
                self.err(args[0].span, format!("`{name}` needs a pointer to an integer, found `*bool`"));
                None
            }
            t => {
                let shown = self.show(t);
                self.err(args[0].span, format!("`{name}` needs a pointer to an integer or bool (`*T`), found `{shown}`"));
                None
            }
        };
        let mut out = vec![p];
        for a in &args[1..arity] {
            let x = self.expr(a, elem.as_ref());
            out.push(match &elem {
                Some(t) => self.coerce(x, t, &format!("Argument type mismatch in `{name}`"), a.span),
                None => x,
            });
        }
        // The ordering travels as a last constant argument (its `Ordering` value).
        if let Some(a) = args.get(arity) {
            match self.ordering_arg(name, op, a) {
                Some(o) => out.push(Expr { kind: ExprKind::Int(o as i128), ty: U8, span: a.span }),
                None => return err_expr(span),
            }
        }
        let Some(elem) = elem else { return err_expr(span) };
        let ty = match op {
            AtomicOp::Store => Ty::Void,
            AtomicOp::Cas => Ty::Bool,
            _ => elem,
        };
        Expr { kind: ExprKind::Builtin(Builtin::Atomic(op), out), ty, span }
    }

    /// Predeclares `enum Ordering : u8 { RELAXED, ACQUIRE, RELEASE, ACQ_REL, SEQ_CST }`
    /// unless the program defines its own `Ordering`.
    pub(super) fn predeclare_ordering(&mut self) {
        if self.has_item("Ordering") {
            return;
        }
        let id = self.prog.enums.len() as EnumId;
        let variants = Ordering::ALL.iter().map(|o| (o.name().to_string(), *o as i128)).collect();
        self.prog.enums.push(EnumDef { name: "Ordering".into(), base: U8, variants, domain: u32::MAX, span: Default::default() });
        self.ordering_enum = Some(id);
        self.predefine("Ordering", id);
    }

    /// The constant `Ordering` argument of an atomic, checked against the operation.
    fn ordering_arg(&mut self, name: &str, op: AtomicOp, a: &ast::Expr) -> Option<Ordering> {
        let x = self.expr(a, None);
        if x.ty.is_error() {
            return None;
        }
        let value = if x.ty == Ty::Enum(self.ordering_enum.unwrap_or(u32::MAX)) { self.const_int(a) } else { None };
        let Some(o) = value.and_then(Ordering::from_value) else {
            self.err(a.span, format!("the last argument of `{name}` must be a constant `Ordering` (`Ordering.ACQUIRE`...)"));
            return None;
        };
        let allowed: &[Ordering] = match op {
            AtomicOp::Load => &[Ordering::Relaxed, Ordering::Acquire, Ordering::SeqCst],
            AtomicOp::Store => &[Ordering::Relaxed, Ordering::Release, Ordering::SeqCst],
            _ => &Ordering::ALL,
        };
        if !allowed.contains(&o) {
            let what = if op == AtomicOp::Load { "a load" } else { "a store" };
            let names: Vec<&str> = allowed.iter().map(|o| o.name()).collect();
            self.err(a.span, format!("`{name}` cannot be `Ordering.{}`: {what} may be {} or {}", o.name(), names[..2].join(", "), names[2]));
            return None;
        }
        Some(o)
    }
}

/// The memory orderings of the atomics (`Ordering.X`), as C11 and LLVM define them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    Relaxed = 0,
    Acquire = 1,
    Release = 2,
    AcqRel = 3,
    SeqCst = 4,
}

impl Ordering {
    pub const ALL: [Ordering; 5] = [Ordering::Relaxed, Ordering::Acquire, Ordering::Release, Ordering::AcqRel, Ordering::SeqCst];

    pub fn from_value(v: i128) -> Option<Ordering> {
        Ordering::ALL.get(usize::try_from(v).ok()?).copied()
    }

    pub fn name(self) -> &'static str {
        ["RELAXED", "ACQUIRE", "RELEASE", "ACQ_REL", "SEQ_CST"][self as usize]
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
