//! The abstract syntax tree: what the parser produces, with a span on every node.
//! Names are plain strings here; HIR resolves them.

use crate::diag::Span;

#[derive(Clone, Debug)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed source file.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub file: u32,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Fn(FnDecl),
    Struct(StructDecl),
    Enum(EnumDecl),
    /// `var`, `const`, `shared var` at module level.
    Global(VarDecl),
    ExternFn(FnDecl),
    ExternStruct(StructDecl),
    ExternVar(VarDecl),
    ExternEnum(EnumDecl),
    /// `import "path";`
    Import { path: String, span: Span },
    /// `cimport <stdio.h>;` (system) or `cimport "local.h";`
    CImport { header: String, system: bool, span: Span },
    /// `shard "name";`
    Shard { name: String, span: Span },
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub ty: Type,
}

#[derive(Clone, Debug)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    /// `...name` as the last parameter: C varargs for externs, Truk varargs otherwise.
    pub variadic: Option<Ident>,
    /// `None` means `void`.
    pub ret: Option<Type>,
    /// `None` for extern functions.
    pub body: Option<Block>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: Ident,
    pub ty: Type,
}

#[derive(Clone, Debug)]
pub struct StructDecl {
    pub name: Ident,
    /// `None` for an opaque `extern struct X;`.
    pub fields: Option<Vec<Field>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct EnumVariant {
    pub name: Ident,
    pub value: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct EnumDecl {
    pub name: Ident,
    pub base: Type,
    pub variants: Vec<EnumVariant>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    Var,
    Const,
    /// `shared var`: lives in the fleet region.
    Shared,
}

#[derive(Clone, Debug)]
pub struct VarDecl {
    pub kind: VarKind,
    pub name: Ident,
    /// Only `let` leaves this out; `var`/`const` always have one.
    pub ty: Option<Type>,
    pub init: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Type {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TypeKind {
    /// A primitive (`i32`, `bool`, `void`...) or a declared struct/enum name, or `Mutex`.
    Named(String),
    Ptr(Box<Type>),
    /// `[N]T`.
    Array(Box<Expr>, Box<Type>),
    /// `[]T`.
    Slice(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// `chan[T, N]`.
    Chan(Box<Type>, Box<Expr>),
    /// `table[K, V, N]`.
    Table(Box<Type>, Box<Type>, Box<Expr>),
    Tuple(Vec<Type>),
    Fn(Vec<Type>, Option<Box<Type>>),
}

#[derive(Clone, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Var(VarDecl),
    /// `let a, _, c = expr;` (one name: `let x = expr;`). `_` discards.
    Let { names: Vec<Ident>, init: Option<Expr> },
    Expr(Expr),
    /// `place = value`, `place += value`...
    Assign { op: Option<BinOp>, target: Expr, value: Expr },
    If { cond: Expr, then: Block, els: Option<Box<Stmt>> },
    While { cond: Expr, body: Block },
    For { init: Option<Box<Stmt>>, cond: Option<Expr>, step: Option<Box<Stmt>>, body: Block },
    Return(Vec<Expr>),
    Break,
    Continue,
    Defer(Box<Stmt>),
    Block(Block),
    Match { scrutinee: Expr, arms: Vec<MatchArm> },
}

#[derive(Clone, Debug)]
pub struct MatchArm {
    /// `None` for the `_` arm.
    pub pattern: Option<Expr>,
    pub body: Stmt,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
            And => "&&",
            Or => "||",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
        }
    }
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
    AddrOf,
    Deref,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// Digits as written (with any `0x`/`0b`/`0o` prefix), value parsed.
    Int(u128),
    Float(f64),
    /// Bytes after escape processing, without the terminating NUL.
    Str(Vec<u8>),
    Char(u8),
    Bool(bool),
    Nil,
    Ident(String),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    /// `a.b` (also `Enum.Variant`).
    Field(Box<Expr>, Ident),
    /// `p->b`.
    Arrow(Box<Expr>, Ident),
    Cast(Box<Expr>, Type),
    StructLit(Ident, Vec<(Ident, Expr)>),
    ArrayLit(Vec<Expr>),
    /// `@T`, only meaningful as a builtin argument.
    TypeArg(Type),
    Lambda(Box<FnDecl>),
}
