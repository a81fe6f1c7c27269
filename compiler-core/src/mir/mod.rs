//! MIR: each function body as explicit basic blocks with terminators.
//!
//! Lowered from typed HIR by `lower.rs`. No structured control flow survives here: `if`,
//! loops, `match`, `break`/`continue`, `&&`/`||`, `each` and `defer` are all blocks and
//! edges (deferred statements are copied onto every exit edge of their scope). Statements
//! hold HIR expression trees, which are pure in the control-flow sense: no `&&`/`||`, no
//! `each`, no `panic` inside them (bounds and division checks stay implicit in the operator
//! that needs them, as in C). Type layouts are finalized here (`layout.rs`).

pub mod bounds;
pub mod describe;
pub mod layout;
pub mod limits;
pub mod lower;
pub mod pretty;

use crate::hir::{self, Expr, LocalId};
use crate::syntax::ast::BinOp;

pub use layout::{Layouts, SharedLayout};
pub use lower::lower;

pub type BlockId = u32;

/// The whole program after lowering: the HIR declarations (bodies taken out), one MIR body
/// per function with a body, and the finalized layouts (of types and of the shared area).
#[derive(Debug)]
pub struct Program {
    pub hir: hir::Program,
    /// Indexed by `FuncId`; `None` for extern functions.
    pub bodies: Vec<Option<Body>>,
    pub layouts: Layouts,
    pub shared: SharedLayout,
}

#[derive(Debug, Clone)]
pub struct Body {
    /// The function's HIR locals keep their ids; temporaries introduced by lowering follow.
    pub locals: Vec<hir::Local>,
    pub params: Vec<LocalId>,
    /// `blocks[0]` is the entry; every block is reachable from it.
    pub blocks: Vec<Block>,
    /// Per local: the span of the nested block that declares it, for the debugger's scopes;
    /// `None` for parameters, temporaries and the locals of the body's own block.
    pub scopes: Vec<Option<crate::diag::Span>>,
    /// The function as written, every check kept, for `Terminator::Restart` (set by loop
    /// versioning, `bounds.rs`).
    pub checked: Option<Box<Body>>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub term: Terminator,
}

#[derive(Debug, Clone)]
pub enum Stmt {
    /// `place op= value`; `op` None is plain assignment (also how locals are initialized).
    Assign { place: Expr, op: Option<BinOp>, value: Expr },
    /// Destructure a tuple value into locals (`None` for `_`).
    LetTuple(Vec<Option<LocalId>>, Expr),
    /// Evaluate for side effects.
    Eval(Expr),
    /// One step of map iteration: `cursor = next(map, cursor, &key, &value)`; a zero cursor
    /// means the end. `key` and `value` receive pointers into the map's entry.
    MapNext { map: Expr, cursor: LocalId, key: LocalId, value: LocalId },
}

#[derive(Debug, Clone)]
pub enum Terminator {
    Goto(BlockId),
    Branch { cond: Expr, then: BlockId, els: BlockId },
    /// Integer (or bool, or enum) switch; values are distinct, the first arm won.
    Switch { value: Expr, cases: Vec<(i128, BlockId)>, default: BlockId },
    Return(Option<Expr>),
    /// `panic(msg)`: never returns.
    Panic(Expr),
    Unreachable,
    /// Run the function again from its start, with the arguments it was called with, as
    /// written (`Body::checked`), and return what that returns. Only where nothing before
    /// could be seen (loop versioning's failed test in a small function, `bounds.rs`).
    Restart,
}

impl Terminator {
    pub fn successors(&self) -> Vec<BlockId> {
        match self {
            Terminator::Goto(b) => vec![*b],
            Terminator::Branch { then, els, .. } => vec![*then, *els],
            Terminator::Switch { cases, default, .. } => {
                let mut v: Vec<BlockId> = cases.iter().map(|c| c.1).collect();
                v.push(*default);
                v
            }
            Terminator::Return(_) | Terminator::Panic(_) | Terminator::Unreachable | Terminator::Restart => vec![],
        }
    }

    fn successors_mut(&mut self) -> Vec<&mut BlockId> {
        match self {
            Terminator::Goto(b) => vec![b],
            Terminator::Branch { then, els, .. } => vec![then, els],
            Terminator::Switch { cases, default, .. } => {
                let mut v: Vec<&mut BlockId> = cases.iter_mut().map(|c| &mut c.1).collect();
                v.push(default);
                v
            }
            Terminator::Return(_) | Terminator::Panic(_) | Terminator::Unreachable | Terminator::Restart => vec![],
        }
    }
}
