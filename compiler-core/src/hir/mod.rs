//! HIR: the program after name resolution and type checking.
//!
//! Every expression carries its type; names are resolved to ids; lambdas are lifted to
//! functions; implicit conversions are explicit `Cast`s. MIR is lowered from this.

pub mod chan;
pub mod table;
pub mod check;
pub mod fleet;
pub mod ty;

use crate::diag::Span;
use crate::syntax::ast::{BinOp, VarKind};
pub use chan::ChanOp;
pub use table::TableOp;
pub use fleet::{AtomicOp, FleetFn};
pub use ty::{EnumId, StructId, Ty};

pub type FuncId = u32;
pub type GlobalId = u32;
pub type LocalId = u32;

#[derive(Debug, Default)]
pub struct Program {
    pub structs: Vec<StructDef>,
    pub enums: Vec<EnumDef>,
    pub globals: Vec<Global>,
    pub funcs: Vec<Function>,
    /// The user's `main`, if any.
    pub main: Option<FuncId>,
    /// `test_*` functions and `test_setup`/`test_teardown`, for `truk test`.
    pub tests: Vec<FuncId>,
    pub test_setup: Option<FuncId>,
    pub test_teardown: Option<FuncId>,
    /// Some code calls a fleet builtin (not an atomic): the program joins its fleet.
    pub uses_fleet: bool,
    /// The array and tuple types written in the source, where: for the size limits
    /// (`mir/limits.rs`).
    pub written_types: Vec<(Ty, Span)>,
}

impl Program {
    /// Whether `__truk_main` must join the fleet first: any `shared var` or fleet builtin.
    pub fn joins_fleet(&self) -> bool {
        self.uses_fleet || self.globals.iter().any(|g| g.kind == VarKind::Shared)
    }
}

#[derive(Debug)]
pub struct StructDef {
    pub name: String,
    /// `None` for an opaque extern struct.
    pub fields: Option<Vec<(String, Ty)>>,
    pub is_extern: bool,
    /// Privacy domain (file or shard) whose code may touch `_`-prefixed fields.
    pub domain: u32,
    pub span: Span,
}

#[derive(Debug)]
pub struct EnumDef {
    pub name: String,
    pub base: Ty,
    pub variants: Vec<(String, i128)>,
    /// Privacy domain (file or shard) whose code may name `_`-prefixed variants.
    pub domain: u32,
    pub span: Span,
}

#[derive(Debug)]
pub struct Global {
    pub name: String,
    /// The symbol name in the object file.
    pub symbol: String,
    pub ty: Ty,
    pub kind: VarKind,
    pub is_extern: bool,
    /// An extern variable of a file that `cimport`s headers: reached through a C accessor,
    /// because C "variables" such as `errno` may be macros or thread-locals.
    pub via_c_shim: bool,
    /// A constant initializer, already folded; `None` means zero.
    pub init: Option<Const>,
    pub span: Span,
}

/// A compile-time constant value (global initializers, `const`s, enum values).
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(Vec<u8>),
    Nil,
    /// Struct fields or array elements, in order.
    Aggregate(Vec<Const>),
    Zero,
    Func(FuncId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variadic {
    None,
    /// `extern fn printf(fmt: *i8, ...args)`: the C calling convention's varargs.
    C,
    /// `fn sum(count: i32, ...nums)` in Truk: read with `__TRUK_VA_ARG_*`.
    Truk,
}

#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub symbol: String,
    pub params: Vec<LocalId>,
    pub ret: Ty,
    pub variadic: Variadic,
    pub is_extern: bool,
    /// Declared in a file that `cimport`s a local header: may be a `static inline` there.
    pub via_c_shim: bool,
    pub locals: Vec<Local>,
    pub body: Option<Block>,
    pub span: Span,
}

impl Function {
    pub fn fn_ty(&self) -> Ty {
        Ty::Fn {
            params: self.params.iter().map(|&p| self.locals[p as usize].ty.clone()).collect(),
            ret: Box::new(self.ret.clone()),
            c_variadic: self.variadic == Variadic::C,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Local {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    /// Declare (and zero, or initialize) a local.
    Let(LocalId, Option<Expr>),
    /// `let a, _, c = f();` : one local per tuple element, `None` for `_`.
    LetTuple(Vec<Option<LocalId>>, Expr),
    Expr(Expr),
    /// `place op= value`; `op` None is plain assignment. `value` already has the place's type.
    Assign { place: Expr, op: Option<BinOp>, value: Expr },
    If { cond: Expr, then: Block, els: Option<Box<Stmt>> },
    /// `for` loops are `Loop`s with a step; `while` has none.
    Loop { cond: Option<Expr>, body: Block, step: Option<Box<Stmt>> },
    Return(Option<Expr>),
    Break,
    Continue,
    Defer(Box<Stmt>),
    Block(Block),
    /// Each arm: constant values to compare with; the last arm is the `_` arm.
    Match { scrutinee: Expr, arms: Vec<(Vec<Expr>, Stmt)>, default: Box<Stmt> },
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int(i128),
    Float(f64),
    Bool(bool),
    /// A NUL-terminated string constant; the bytes exclude the NUL.
    Str(Vec<u8>),
    Nil,
    Local(LocalId),
    Global(GlobalId),
    Func(FuncId),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// `&place`.
    AddrOf(Box<Expr>),
    Deref(Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    /// Field `n` of a struct or tuple value/place.
    Field(Box<Expr>, u32),
    /// Element of an array, slice or pointer; bounds-checked for arrays and slices.
    Index(Box<Expr>, Box<Expr>),
    /// `m[k]`: a `*V`, nil when absent. As an assignment target it inserts.
    MapIndex(Box<Expr>, Box<Expr>),
    /// The value slot of `m[k]`, inserted (zeroed) when absent: a `*V` never nil.
    MapSlot(Box<Expr>, Box<Expr>),
    Cast(Box<Expr>),
    StructLit(Vec<Expr>),
    ArrayLit(Vec<Expr>),
    TupleLit(Vec<Expr>),
    Builtin(Builtin, Vec<Expr>),
    /// The all-zero value of the expression's type.
    Zero,
}

/// Types are boxed: an `Expr` is as large as its largest kind, and builtins are rare.
#[derive(Debug, Clone, PartialEq)]
pub enum Builtin {
    /// `make(@T)`: a zeroed `*T`.
    MakeOne(Box<Ty>),
    /// `make(@T, n)`: a `[]T` of n elements.
    MakeSlice(Box<Ty>),
    /// `make(@map[K, V])`.
    MakeMap(Box<Ty>, Box<Ty>),
    /// `delete(p)` for a pointer or slice.
    Free,
    /// `delete(m)`.
    FreeMap,
    /// `delete(m[k])`: args are the map and the key.
    MapRemove,
    Len,
    SizeOf(Box<Ty>),
    Panic,
    /// `each(collection, ctx, fn)`.
    EachMap,
    EachSlice,
    EachStr,
    /// `__TRUK_VA_ARG_I32()` etc.: the next Truk variadic argument, as this type.
    VaArg(Box<Ty>),
    /// `atomic_load(p)` etc.: args are the pointer, then the operands.
    Atomic(AtomicOp),
    /// `lock(&m)`, `fleet_size()`, `spawn(args)`...: a call of the fleet runtime.
    Fleet(FleetFn),
    /// `chan_send(&c, v, t)` etc.: a call of the channel runtime.
    Chan(ChanOp),
    /// `table_put(&t, k, v)` etc.: a call of the table runtime.
    Table(TableOp),
}

#[cfg(test)]
mod tests {
    /// The trees of a whole program stay in memory until codegen is done: a kind that grows
    /// every node (a large payload not boxed) shows in the build's peak memory.
    #[test]
    fn nodes_stay_small() {
        use std::mem::size_of;
        assert!(size_of::<super::Expr>() <= 96, "hir::Expr is {} bytes", size_of::<super::Expr>());
        assert!(size_of::<super::ty::Ty>() <= 32, "Ty is {} bytes", size_of::<super::ty::Ty>());
        assert!(size_of::<crate::mir::Stmt>() <= 208, "mir::Stmt is {} bytes", size_of::<crate::mir::Stmt>());
    }
}
