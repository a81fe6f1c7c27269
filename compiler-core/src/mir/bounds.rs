//! Range facts for bounds checks (optimized builds): which indexing of a slice or array is
//! known in bounds, so that codegen emits no check for it (`unchecked`), and loop versioning
//! that makes more of them so (`version_loops`).
//!
//! A fact is `a < b` or `a <= b` between unsigned values (terms: locals whose address is never
//! taken, constants, `len` of such a slice local, and non-trapping arithmetic on them; a
//! signed local's term is its bits read unsigned). Facts come from branch conditions (on each
//! edge; a signed comparison only where its smaller side is known not negative, `x <= smax`),
//! from a check that passed (`a[i]` gives `i < len(a)` after it), from copies (`c = r * 2 + 1`
//! after a test of `r * 2 + 1 < e` gives `c < e`) and from steps by one (`x + 1` after `x < b`
//! is at most `b`; `x - 1` after `0 < x` stays below what `x` was below); an assignment to a
//! local kills the facts that name it. They flow forward, kept where every path agrees. An
//! index is proven when `i < len`, or `i < b <= len`, or `i <= b < len`; `x + 1` when `x < b
//! < len`; `x - 1` when `0 < x <= len`; `a + b` when `b < m`, `m <= len`, `a <= len - m`; and
//! `r * n + c` when `r < m`, `c < n`, `m * n <= len` with `m`, `n` of at most 32 bits.
//!
//! Versioning: a loop whose checks would be proven by facts `b <= len(s)` (or `b < len(s)`,
//! `a <= len(s) - m`, `n <= 4294967295`, `m * n <= len(s)`) about values it does not change
//! gets a test of them before it: true, a copy of the loop without those checks runs, else
//! the loop as it was. A loop around others is versioned only when its copy keeps no check;
//! else its inner loops may be. Every check is kept in meaning: where
//! the test fails the original loop panics at the same index, after the same side effects.
//! In a small function whose way into the loop has no effect (`quiet_way_in`), the loop is
//! not copied: the tests lead to it, and a failed one restarts the function as written
//! (`Terminator::Restart`, `Body::checked`), which then panics at the same index after the
//! same side effects; the function stays small enough for LLVM to inline.

use std::collections::{HashMap, HashSet};

use super::{BlockId, Body, Stmt, Terminator};
use crate::diag::Span;
use crate::hir::ty::Ty;
use crate::hir::{Builtin, Expr, ExprKind, LocalId, UnOp};
use crate::syntax::ast::BinOp;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Term {
    Local(LocalId),
    Int(u128),
    Len(LocalId),
    /// Wrapping arithmetic at the given width.
    Bin(BinOp, u8, Box<Term>, Box<Term>),
}

impl Term {
    fn names(&self, x: LocalId) -> bool {
        match self {
            Term::Local(y) | Term::Len(y) => *y == x,
            Term::Int(_) => false,
            Term::Bin(_, _, a, b) => a.names(x) || b.names(x),
        }
    }

    fn any_local(&self, f: &impl Fn(LocalId) -> bool) -> bool {
        match self {
            Term::Local(y) | Term::Len(y) => f(*y),
            Term::Int(_) => false,
            Term::Bin(_, _, a, b) => a.any_local(f) || b.any_local(f),
        }
    }
}

/// `lo < hi` (strict) or `lo <= hi`, as unsigned values.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Fact {
    strict: bool,
    lo: Term,
    hi: Term,
}

type Facts = HashSet<Fact>;

/// Facts kept per program point, and passes over a function, at most: bounds on the time the
/// analysis takes (a fact not kept is a check kept; a function that has not settled by then
/// keeps all its checks).
const MAX_FACTS: usize = 256;
const MAX_PASSES: usize = 32;

fn add(facts: &mut Facts, new: impl IntoIterator<Item = Fact>) {
    for f in new {
        if facts.len() >= MAX_FACTS {
            return;
        }
        facts.insert(f);
    }
}

fn unsigned_bits(ty: &Ty) -> Option<u8> {
    match ty {
        Ty::Int { signed: false, bits } => Some(*bits),
        _ => None,
    }
}

/// The width of an integer type, signed or not (a term is its bit pattern, read unsigned).
fn int_bits(ty: &Ty) -> Option<u8> {
    match ty {
        Ty::Int { bits, .. } => Some(*bits),
        _ => None,
    }
}

fn is_signed(ty: &Ty) -> bool {
    matches!(ty, Ty::Int { signed: true, .. })
}

/// The largest non-negative value of a signed type of `bits`: `x <= smax` (unsigned) says
/// that `x` is not negative.
fn smax(bits: u8) -> Term {
    Term::Int((1u128 << (bits - 1)) - 1)
}

/// The local a place is part of (`x`, `x.f`, `x[i]`), if any.
fn root(e: &Expr) -> Option<LocalId> {
    match &e.kind {
        ExprKind::Local(x) => Some(*x),
        ExprKind::Field(b, _) | ExprKind::Index(b, _) => root(b),
        _ => None,
    }
}

/// The locals whose address is taken somewhere: a store through a pointer may change them.
fn address_taken(body: &Body) -> HashSet<LocalId> {
    let mut out = HashSet::new();
    each_expr(body, &mut |e| {
        if let ExprKind::AddrOf(p) = &e.kind {
            if let Some(x) = root(p) {
                out.insert(x);
            }
        }
    });
    out
}

/// The parameters that keep the value they were called with for the whole call: never
/// assigned (nor any part of them: a store to a slice's or a pointer's element is not one),
/// never destructured into, address never taken. Unoptimized codegen reads them as the
/// call's argument (a slice: its pointer and length loaded once), so that a nil check of one
/// covers the later ones.
pub fn unchanged_params(body: &Body) -> Vec<LocalId> {
    fn written(e: &Expr) -> Option<LocalId> {
        match &e.kind {
            ExprKind::Local(x) => Some(*x),
            ExprKind::Field(b, _) => written(b),
            ExprKind::Index(b, _) if matches!(b.ty, Ty::Array(..)) => written(b),
            _ => None,
        }
    }
    let mut changed = address_taken(body);
    for b in &body.blocks {
        for s in &b.stmts {
            match s {
                Stmt::Assign { place, .. } => changed.extend(written(place)),
                Stmt::LetTuple(xs, _) => changed.extend(xs.iter().flatten()),
                Stmt::MapNext { cursor, key, value, .. } => changed.extend([cursor, key, value]),
                Stmt::Eval(_) => {}
            }
        }
    }
    body.params.iter().copied().filter(|p| !changed.contains(p)).collect()
}

fn each_expr<'a>(body: &'a Body, f: &mut impl FnMut(&'a Expr)) {
    for b in &body.blocks {
        for s in &b.stmts {
            stmt_exprs(s, &mut |e| walk(e, f));
        }
        term_exprs(&b.term, &mut |e| walk(e, f));
    }
}

fn stmt_exprs<'a>(s: &'a Stmt, f: &mut impl FnMut(&'a Expr)) {
    match s {
        Stmt::Assign { place, value, .. } => {
            f(place);
            f(value);
        }
        Stmt::LetTuple(_, e) | Stmt::Eval(e) => f(e),
        Stmt::MapNext { map, .. } => f(map),
    }
}

fn term_exprs<'a>(t: &'a Terminator, f: &mut impl FnMut(&'a Expr)) {
    match t {
        Terminator::Branch { cond: e, .. } | Terminator::Switch { value: e, .. } | Terminator::Panic(e) | Terminator::Return(Some(e)) => f(e),
        _ => {}
    }
}

/// Every node of `e`, parents before children, operands in evaluation order.
fn walk<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) | ExprKind::MapIndex(a, b) | ExprKind::MapSlot(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        ExprKind::Unary(_, a) | ExprKind::AddrOf(a) | ExprKind::Deref(a) | ExprKind::Field(a, _) | ExprKind::Cast(a) => walk(a, f),
        ExprKind::Call(c, args) => {
            walk(c, f);
            args.iter().for_each(|a| walk(a, f));
        }
        ExprKind::StructLit(xs) | ExprKind::ArrayLit(xs) | ExprKind::TupleLit(xs) | ExprKind::Builtin(_, xs) => xs.iter().for_each(|a| walk(a, f)),
        _ => {}
    }
}

struct Ctx<'b> {
    body: &'b Body,
    addr: HashSet<LocalId>,
}

impl Ctx<'_> {
    /// The term of an integer expression, if it is one: its bit pattern read as unsigned
    /// (for a signed value, what a cast to the unsigned type of its width gives).
    fn term(&self, e: &Expr) -> Option<Term> {
        let bits = int_bits(&e.ty)?;
        match &e.kind {
            ExprKind::Int(v) if *v >= 0 => Some(Term::Int(*v as u128)),
            ExprKind::Local(x) if !self.addr.contains(x) => Some(Term::Local(*x)),
            ExprKind::Builtin(Builtin::Len, args) => match (&args[0].kind, &args[0].ty) {
                (ExprKind::Local(s), Ty::Slice(_)) if !self.addr.contains(s) => Some(Term::Len(*s)),
                (_, Ty::Array(n, _)) if is_local(&args[0]) => Some(Term::Int(*n as u128)),
                _ => None,
            },
            // Division and shifts are left out: a guard evaluates its terms early, and they
            // may trap or be poison.
            ExprKind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor), a, b) => {
                Some(Term::Bin(*op, bits, Box::new(self.term(a)?), Box::new(self.term(b)?)))
            }
            // Widening an unsigned value keeps it, a cast to the same width keeps the bits.
            ExprKind::Cast(x) if unsigned_bits(&x.ty).is_some_and(|from| from <= bits) || int_bits(&x.ty) == Some(bits) => self.term(x),
            _ => None,
        }
    }

    /// The facts that hold where `cond` evaluated to `truth`, `facts` holding before it.
    fn cond_facts(&self, cond: &Expr, truth: bool, facts: &Facts) -> Vec<Fact> {
        match &cond.kind {
            ExprKind::Unary(UnOp::Not, x) => self.cond_facts(x, !truth, facts),
            ExprKind::Binary(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), a, b) => {
                let (Some(ta), Some(tb)) = (self.term(a), self.term(b)) else { return vec![] };
                // As `lo < hi` or `lo <= hi` when true.
                let (strict, lo, hi) = match op {
                    BinOp::Lt => (true, ta, tb),
                    BinOp::Le => (false, ta, tb),
                    BinOp::Gt => (true, tb, ta),
                    _ => (false, tb, ta),
                };
                let f = if truth { Fact { strict, lo, hi } } else { Fact { strict: !strict, lo: hi, hi: lo } };
                let Some(bits) = int_bits(&a.ty).filter(|_| is_signed(&a.ty)) else { return vec![f] };
                // Signed: between values not negative the order is the unsigned one, and the
                // larger of two such is not negative either.
                let s = smax(bits);
                if !le(facts, &f.lo, &s, false) {
                    return vec![];
                }
                let mut out = vec![Fact { strict: false, lo: f.hi.clone(), hi: s.clone() }];
                if f.strict {
                    out.push(Fact { strict: true, lo: f.lo.clone(), hi: s });
                }
                out.push(f);
                out
            }
            _ => vec![],
        }
    }

    /// The length an index into `base` is checked against, as a term.
    fn len_of(&self, base: &Expr) -> Option<Term> {
        match (&base.ty, &base.kind) {
            (Ty::Array(n, _), _) => Some(Term::Int(*n as u128)),
            (Ty::Slice(_), ExprKind::Local(s)) if !self.addr.contains(s) => Some(Term::Len(*s)),
            _ => None,
        }
    }
}

fn is_local(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Local(_))
}

fn le_known(facts: &Facts, a: &Term, b: &Term, strict: bool) -> bool {
    match (a, b) {
        (Term::Int(x), Term::Int(y)) => return if strict { x < y } else { x <= y },
        (Term::Int(0), _) if !strict => return true,
        _ => {}
    }
    facts.contains(&Fact { strict: true, lo: a.clone(), hi: b.clone() }) || (!strict && (a == b || facts.contains(&Fact { strict: false, lo: a.clone(), hi: b.clone() })))
}

/// `a < b` (or `a <= b`) from the facts, directly or through one bound of `a`.
fn le(facts: &Facts, a: &Term, b: &Term, strict: bool) -> bool {
    le_known(facts, a, b, strict) || facts.iter().any(|f| f.lo == *a && le_known(facts, &f.hi, b, strict && !f.strict))
}

/// `0 < x`: a bound below `x` that is strict, or above zero.
fn positive(facts: &Facts, x: &Term) -> bool {
    le_known(facts, &Term::Int(0), x, true) || facts.iter().any(|f| f.hi == *x && (f.strict || le_known(facts, &Term::Int(0), &f.lo, true)))
}

/// `x + 1` and `x - 1`: the `x` of `x + 1`, or of `x - 1` with the sign (+1 or -1).
fn plus_one(t: &Term) -> Option<(&Term, i8)> {
    match t {
        Term::Bin(BinOp::Add, _, x, one) if **one == Term::Int(1) => Some((x, 1)),
        Term::Bin(BinOp::Sub, _, x, one) if **one == Term::Int(1) => Some((x, -1)),
        _ => None,
    }
}

/// `len - m`, the bound of a row's start in row-major indexing.
fn len_minus(len: &Term, m: &Term) -> Term {
    Term::Bin(BinOp::Sub, 64, Box::new(len.clone()), Box::new(m.clone()))
}

/// `idx < len` from the facts: directly or through one bound; `x + 1` through `x < b < len`
/// (if `x + 1` wraps it is 0, and `len > b`); `x - 1` with `0 < x` through `x <= len`; and
/// `a + b` (a row's start `a` and a column `b`) through `b < m`, `m <= len`, `a <= len - m`
/// (no sum exceeds `len`, so none wraps).
fn proves(facts: &Facts, idx: &Term, len: &Term) -> bool {
    if le(facts, idx, len, true) {
        return true;
    }
    match plus_one(idx) {
        Some((x, 1)) => return facts.iter().any(|f| f.lo == *x && f.strict && le_known(facts, &f.hi, len, true)),
        Some((x, _)) => return positive(facts, x) && le(facts, x, len, false),
        None => {}
    }
    let Term::Bin(BinOp::Add, _, a, b) = idx else { return false };
    let row = |a: &Term, b: &Term| facts.iter().any(|f| f.lo == *b && f.strict && le_known(facts, &f.hi, len, false) && le_known(facts, a, &len_minus(len, &f.hi), false));
    row(a, b) || row(b, a) || rows(a, b).into_iter().any(|(r, n, c)| le_known(facts, c, n, true) && facts.iter().any(|f| f.lo == *r && f.strict && matrix_fits(facts, &f.hi, n, len)))
}

/// The ways to read `a + b` as `r * n + c` (row `r`, column `c` of rows of `n`).
fn rows<'t>(a: &'t Term, b: &'t Term) -> Vec<(&'t Term, &'t Term, &'t Term)> {
    let mut out = vec![];
    for (p, c) in [(a, b), (b, a)] {
        if let Term::Bin(BinOp::Mul, _, x, y) = p {
            out.extend([(&**x, &**y, c), (&**y, &**x, c)]);
        }
    }
    out
}

/// The largest value of 32 bits: rows and columns at most this many have a product that does
/// not wrap.
const MAX32: Term = Term::Int(u32::MAX as u128);

fn product(m: &Term, n: &Term) -> Term {
    Term::Bin(BinOp::Mul, 64, Box::new(m.clone()), Box::new(n.clone()))
}

/// `m` rows of `n` fit in `len`: `m * n <= len`, with neither above 32 bits (so the product
/// does not wrap). Then `r * n + c < len` for `r < m`, `c < n`: at most `(m - 1) * n + n - 1`.
fn matrix_fits(facts: &Facts, m: &Term, n: &Term, len: &Term) -> bool {
    le_known(facts, m, &MAX32, false) && le_known(facts, n, &MAX32, false) && (le_known(facts, &product(m, n), len, false) || le_known(facts, &product(n, m), len, false))
}

fn kill(facts: &mut Facts, x: LocalId) {
    facts.retain(|f| !f.lo.names(x) && !f.hi.names(x));
}

/// What the analysis found: per block, the facts at its start.
struct Flow {
    entry: Vec<Option<Facts>>,
}

/// Applies statement `s` to `facts`; each index it checks is passed to `seen` with whether the
/// facts before the statement prove it.
fn step<'a>(cx: &Ctx, facts: &mut Facts, s: &'a Stmt, seen: &mut impl FnMut(&'a Expr, bool, &Facts)) {
    STEPS.with(|c| c.set(c.get() + 1));
    let mut gen = vec![];
    stmt_exprs(s, &mut |e| index_facts(cx, facts, &mut gen, e, seen));
    add(facts, gen);
    match s {
        Stmt::Assign { place, op, value } => {
            let ExprKind::Local(x) = place.kind else { return };
            // The new value as a term of the old ones: what was known of it is known of `x`.
            let new = match op {
                _ if cx.addr.contains(&x) || int_bits(&place.ty).is_none() => None,
                None => cx.term(value),
                Some(op) => cx.term(&Expr { kind: ExprKind::Binary(*op, Box::new(place.clone()), Box::new(value.clone())), ty: place.ty.clone(), span: value.span }),
            };
            let moved = match &new {
                Some(tv) => new_value_facts(cx, facts, x, &place.ty, tv),
                None => vec![],
            };
            kill(facts, x);
            add(facts, moved);
            if let Some(n) = value_len(cx, value).filter(|n| op.is_none() && !n.names(x) && !cx.addr.contains(&x)) {
                add(facts, [Fact { strict: false, lo: Term::Len(x), hi: n.clone() }, Fact { strict: false, lo: n, hi: Term::Len(x) }]);
            }
        }
        Stmt::LetTuple(xs, _) => xs.iter().flatten().for_each(|&x| kill(facts, x)),
        Stmt::MapNext { cursor, key, value, .. } => [cursor, key, value].into_iter().for_each(|&x| kill(facts, x)),
        Stmt::Eval(_) => {}
    }
}

/// What is known of local `x` (of type `ty`) once assigned `tv`, a term of the values before,
/// from `facts`, which hold before.
fn new_value_facts(cx: &Ctx, facts: &Facts, x: LocalId, ty: &Ty, tv: &Term) -> Vec<Fact> {
    let xt = Term::Local(x);
    let bits = int_bits(ty).unwrap_or(64);
    let mut out: Vec<Fact> = facts
        .iter()
        .filter_map(|f| match (f.lo == *tv && !f.hi.names(x), f.hi == *tv && !f.lo.names(x)) {
            (true, _) => Some(Fact { lo: xt.clone(), ..f.clone() }),
            (_, true) => Some(Fact { hi: xt.clone(), ..f.clone() }),
            _ => None,
        })
        .collect();
    let below = |f: &Fact, y: &Term| f.lo == *y && !f.hi.names(x);
    let above = |f: &Fact, y: &Term| f.hi == *y && !f.lo.names(x);
    match (tv, plus_one(tv)) {
        (Term::Int(c), _) if *c > 0 => out.push(Fact { strict: false, lo: tv.clone(), hi: xt.clone() }),
        // `x + 1` after `x < b`: at most `b` (wrapping, 0). Not wrapping when `b` fits `x`'s
        // type: then above what `x` was above, and above 0.
        (_, Some((y, 1))) => {
            let mut fits = false;
            for f in facts.iter().filter(|f| f.strict && below(f, y)) {
                fits |= term_bits(cx, &f.hi) <= bits;
                out.push(Fact { strict: false, lo: xt.clone(), hi: f.hi.clone() });
            }
            if fits {
                out.extend(facts.iter().filter(|f| above(f, y)).map(|f| Fact { strict: true, lo: f.lo.clone(), hi: xt.clone() }));
                out.push(Fact { strict: true, lo: Term::Int(0), hi: xt.clone() });
            }
        }
        // `x - 1` after `0 < x`: below what `x` was at most, at least what `x` was above.
        (_, Some((y, _))) if positive(facts, y) => {
            out.extend(facts.iter().filter(|f| below(f, y)).map(|f| Fact { strict: true, lo: xt.clone(), hi: f.hi.clone() }));
            out.extend(facts.iter().filter(|f| f.strict && above(f, y)).map(|f| Fact { strict: false, lo: f.lo.clone(), hi: xt.clone() }));
        }
        _ => {}
    }
    if is_signed(ty) && le(facts, tv, &smax(bits), false) {
        out.push(Fact { strict: false, lo: xt, hi: smax(bits) });
    }
    out
}

/// The width of the values a term takes (an upper bound).
fn term_bits(cx: &Ctx, t: &Term) -> u8 {
    match t {
        Term::Local(y) => int_bits(&cx.body.locals[*y as usize].ty).unwrap_or(64),
        Term::Len(_) => 64,
        Term::Int(v) => (128 - v.leading_zeros()) as u8,
        Term::Bin(_, bits, ..) => *bits,
    }
}

/// The element count of `make(@T, n)`, as a term.
fn value_len(cx: &Ctx, value: &Expr) -> Option<Term> {
    match &value.kind {
        ExprKind::Builtin(Builtin::MakeSlice(_), args) => args.first().and_then(|n| cx.term(n)),
        _ => None,
    }
}

/// The checks in `e`: each passed to `seen` with whether `facts` prove it, and what each
/// establishes once passed pushed onto `gen`.
fn index_facts<'a>(cx: &Ctx, facts: &Facts, gen: &mut Vec<Fact>, e: &'a Expr, seen: &mut impl FnMut(&'a Expr, bool, &Facts)) {
    walk(e, &mut |n| {
        if let ExprKind::Index(base, i) = &n.kind {
            if !matches!(base.ty, Ty::Array(..) | Ty::Slice(_)) {
                return;
            }
            let (Some(len), Some(ti)) = (cx.len_of(base), cx.term(i)) else {
                seen(n, false, facts);
                return;
            };
            seen(n, proves(facts, &ti, &len), facts);
            // Past the check (which panics otherwise) the index is in bounds.
            gen.push(Fact { strict: true, lo: ti, hi: len });
        }
    });
}

fn meet(into: &mut Option<Facts>, from: &Facts) -> bool {
    match into {
        None => {
            *into = Some(from.clone());
            true
        }
        Some(cur) => {
            let n = cur.len();
            cur.retain(|f| from.contains(f));
            cur.len() != n
        }
    }
}

fn rpo(body: &Body) -> Vec<BlockId> {
    let n = body.blocks.len();
    let mut seen = vec![false; n];
    let mut post = Vec::with_capacity(n);
    let mut stack = vec![(0 as BlockId, 0usize)];
    seen[0] = true;
    while let Some(&mut (b, ref mut i)) = stack.last_mut() {
        let succ = body.blocks[b as usize].term.successors();
        if *i < succ.len() {
            let s = succ[*i];
            *i += 1;
            if !seen[s as usize] {
                seen[s as usize] = true;
                stack.push((s, 0));
            }
        } else {
            post.push(b);
            stack.pop();
        }
    }
    post.reverse();
    post
}

fn analyze(cx: &Ctx) -> Flow {
    let order = rpo(cx.body);
    analyze_from(cx, &order, &|_| true, Facts::new())
}

/// The facts at the start of each block of `order` (reverse postorder, its first block the
/// start, which `init` holds at), following only the edges into blocks `inside` accepts.
fn analyze_from(cx: &Ctx, order: &[BlockId], inside: &dyn Fn(BlockId) -> bool, init: Facts) -> Flow {
    let n = cx.body.blocks.len();
    let mut entry: Vec<Option<Facts>> = vec![None; n];
    entry[order[0] as usize] = Some(init);
    let mut changed = true;
    let mut passes = 0;
    while changed {
        if passes == MAX_PASSES {
            return Flow { entry: vec![None; n] };
        }
        passes += 1;
        changed = false;
        for &b in order {
            let Some(facts) = entry[b as usize].clone() else { continue };
            for (succ, out) in block_out(cx, facts, b) {
                if inside(succ) {
                    changed |= meet(&mut entry[succ as usize], &out);
                }
            }
        }
    }
    Flow { entry }
}

/// The facts on each edge out of block `b`, from the facts at its start.
fn block_out(cx: &Ctx, mut facts: Facts, b: BlockId) -> Vec<(BlockId, Facts)> {
    let blk = &cx.body.blocks[b as usize];
    for s in &blk.stmts {
        step(cx, &mut facts, s, &mut |_, _, _| {});
    }
    let mut gen = vec![];
    term_exprs(&blk.term, &mut |e| index_facts(cx, &facts, &mut gen, e, &mut |_, _, _| {}));
    add(&mut facts, gen);
    edges(cx, &blk.term, &facts)
        .into_iter()
        .map(|(succ, extra)| {
            let mut out = facts.clone();
            add(&mut out, extra);
            (succ, out)
        })
        .collect()
}

thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Statements the analysis has stepped through on this thread: a measure of its
/// cost that does not depend on the machine (tests check it grows linearly).
pub fn analysis_steps() -> u64 {
    STEPS.with(|c| c.get())
}

/// Each successor with the facts its edge adds.
fn edges(cx: &Ctx, t: &Terminator, facts: &Facts) -> Vec<(BlockId, Vec<Fact>)> {
    match t {
        Terminator::Branch { cond, then, els } if then != els => vec![(*then, cx.cond_facts(cond, true, facts)), (*els, cx.cond_facts(cond, false, facts))],
        _ => t.successors().into_iter().map(|s| (s, vec![])).collect(),
    }
}

/// Each index expression of `body` (arrays and slices) with whether the facts prove it.
/// Each index expression of the blocks (arrays and slices) with whether the facts prove it
/// and the facts before its statement.
fn each_index<'a>(cx: &Ctx<'a>, flow: &Flow, blocks: impl Iterator<Item = BlockId>, f: &mut impl FnMut(BlockId, &'a Expr, bool, &Facts)) {
    for b in blocks {
        let blk = &cx.body.blocks[b as usize];
        let Some(mut facts) = flow.entry[b as usize].clone() else { continue };
        for s in &blk.stmts {
            step(cx, &mut facts, s, &mut |e, ok, fs| f(b, e, ok, fs));
        }
        term_exprs(&blk.term, &mut |e| index_facts(cx, &facts, &mut vec![], e, &mut |e, ok, fs| f(b, e, ok, fs)));
    }
}

/// The index expressions of `body` that need no bounds check, by address.
pub fn unchecked(body: &Body) -> HashSet<*const Expr> {
    let cx = Ctx { body, addr: address_taken(body) };
    let flow = analyze(&cx);
    let mut out = HashSet::new();
    each_index(&cx, &flow, 0..body.blocks.len() as BlockId, &mut |_, e, ok, _| {
        if ok {
            out.insert(e as *const Expr);
        }
    });
    out
}

// ---- loop versioning -----------------------------------------------------------------------

/// Past this many blocks a function is not versioned.
const MAX_BLOCKS: usize = 2000;
/// Loops versioned per function, and guard facts per loop: bounds on code growth; loops
/// tried per function: a bound on time (a try costs the loop's size, the function is analyzed
/// once).
const MAX_VERSIONS: usize = 8;
const MAX_TRIES: usize = 16;
const MAX_GUARDS: usize = 4;
/// A loop copied has at most this many statements and blocks, and all copies together at
/// most a quarter of the function's (or one such loop): bounds on what LLVM then optimizes.
const MAX_LOOP_SIZE: usize = 200;
/// A function of at most this many statements and blocks restarts as written where a test
/// fails rather than keeping a copy of the loop (`apply_restart`).
const RESTART_MAX_SIZE: usize = 64;

/// Statements and blocks: the size that versioning copies.
fn size(body: &Body, blocks: impl Iterator<Item = BlockId>) -> usize {
    blocks.map(|b| body.blocks[b as usize].stmts.len() + 1).sum()
}

/// Immediate dominators (Cooper, Harvey, Kennedy), indexed by block; the entry's is itself.
fn dominators(body: &Body, order: &[BlockId]) -> Vec<Option<BlockId>> {
    let n = body.blocks.len();
    let mut pos = vec![usize::MAX; n];
    for (i, &b) in order.iter().enumerate() {
        pos[b as usize] = i;
    }
    let mut preds: Vec<Vec<BlockId>> = vec![vec![]; n];
    for &b in order {
        for s in body.blocks[b as usize].term.successors() {
            preds[s as usize].push(b);
        }
    }
    let mut idom: Vec<Option<BlockId>> = vec![None; n];
    idom[0] = Some(0);
    let mut changed = true;
    while changed {
        changed = false;
        for &b in &order[1..] {
            let mut new: Option<BlockId> = None;
            for &p in &preds[b as usize] {
                if idom[p as usize].is_none() {
                    continue;
                }
                new = Some(match new {
                    None => p,
                    Some(mut a) => {
                        let mut c = p;
                        while a != c {
                            while pos[a as usize] > pos[c as usize] {
                                a = idom[a as usize].unwrap();
                            }
                            while pos[c as usize] > pos[a as usize] {
                                c = idom[c as usize].unwrap();
                            }
                        }
                        a
                    }
                });
            }
            if new.is_some() && idom[b as usize] != new {
                idom[b as usize] = new;
                changed = true;
            }
        }
    }
    idom
}

fn dominates(idom: &[Option<BlockId>], a: BlockId, mut b: BlockId) -> bool {
    loop {
        if a == b {
            return true;
        }
        match idom[b as usize] {
            Some(d) if d != b => b = d,
            _ => return false,
        }
    }
}

/// The natural loops (header and blocks, header included, largest first) and the immediate
/// dominators.
fn loops(body: &Body) -> (Vec<(BlockId, Vec<BlockId>)>, Vec<Option<BlockId>>) {
    let order = rpo(body);
    let idom = dominators(body, &order);
    let mut preds: Vec<Vec<BlockId>> = vec![vec![]; body.blocks.len()];
    for &b in &order {
        for s in body.blocks[b as usize].term.successors() {
            preds[s as usize].push(b);
        }
    }
    let mut by_header: HashMap<BlockId, HashSet<BlockId>> = HashMap::new();
    for &t in &order {
        for h in body.blocks[t as usize].term.successors() {
            if !dominates(&idom, h, t) {
                continue;
            }
            let set = by_header.entry(h).or_insert_with(|| HashSet::from([h]));
            let mut work = vec![t];
            while let Some(b) = work.pop() {
                if set.insert(b) {
                    work.extend(preds[b as usize].iter().copied());
                }
            }
        }
    }
    let mut out: Vec<(BlockId, Vec<BlockId>)> = by_header
        .into_iter()
        .map(|(h, s)| {
            let mut v: Vec<BlockId> = s.into_iter().collect();
            v.sort_unstable();
            (h, v)
        })
        .collect();
    out.sort_by_key(|(h, v)| (std::cmp::Reverse(v.len()), *h));
    (out, idom)
}

/// Versions the loops of `body` whose checks a test before the loop would prove (see the
/// module comment). For optimized builds.
///
/// The function is analyzed once, before any loop is versioned: a loop versioned earlier only
/// adds facts on the ways past it (its copy is entered with more), so what the analysis found
/// still holds, if less than it could; the analysis that drops checks (`unchecked`) runs
/// afresh on the result.
pub fn version_loops(body: &mut Body) {
    if body.blocks.len() > MAX_BLOCKS {
        return;
    }
    let (all, idom) = loops(body);
    let order = rpo(body);
    let mut pos = vec![usize::MAX; body.blocks.len()];
    for (i, &b) in order.iter().enumerate() {
        pos[b as usize] = i;
    }
    let mut preds: Vec<Vec<BlockId>> = vec![vec![]; body.blocks.len()];
    // Per local, the blocks with a plain assignment to it.
    let mut defs: HashMap<LocalId, Vec<BlockId>> = HashMap::new();
    for (b, blk) in body.blocks.iter().enumerate() {
        for s in blk.term.successors() {
            preds[s as usize].push(b as BlockId);
        }
        for s in &blk.stmts {
            if let Stmt::Assign { place, op: None, .. } = s {
                if let ExprKind::Local(x) = place.kind {
                    defs.entry(x).or_default().push(b as BlockId);
                }
            }
        }
    }
    let addr = address_taken(body);
    let flow = analyze(&Ctx { body, addr: addr.clone() });
    let mut budget = MAX_LOOP_SIZE.max(size(body, 0..body.blocks.len() as BlockId) / 4);
    let mut done: HashSet<BlockId> = HashSet::new();
    let (mut tried, mut versions) = (0, 0);
    let headers: HashSet<BlockId> = all.iter().map(|(h, _)| *h).collect();
    // A small function's loop whose way in does nothing that could be seen is not copied: a
    // failed test runs the function again as written, in a function of its own (the
    // function's size then stays what LLVM inlines: heap sort's sift-down, 410 -> 135).
    let original = (size(body, 0..body.blocks.len() as BlockId) <= RESTART_MAX_SIZE).then(|| body.clone());
    let in_loops: HashSet<BlockId> = all.iter().flat_map(|(_, bs)| bs.iter().copied()).collect();
    let mut restarts = false;
    for (h, mut blocks) in all {
        if versions == MAX_VERSIONS || tried == MAX_TRIES {
            break;
        }
        let n = size(body, blocks.iter().copied());
        if h == 0 || n > MAX_LOOP_SIZE || n > budget || blocks.iter().any(|b| done.contains(b)) {
            continue;
        }
        tried += 1;
        blocks.sort_by_key(|&b| pos[b as usize]);
        let nest = blocks.iter().any(|b| *b != h && headers.contains(b));
        let lp = Loop { header: h, blocks: &blocks, idom: &idom, preds: &preds, defs: &defs, nest };
        let Some(guards) = plan(&Ctx { body, addr: addr.clone() }, &flow, &lp) else { continue };
        if original.is_some() && quiet_way_in(body, &lp, &in_loops) {
            apply_restart(body, &lp, &guards);
            restarts = true;
        } else {
            apply(body, &lp, &guards);
            budget -= n;
        }
        done.extend(blocks.iter().copied());
        versions += 1;
    }
    if restarts {
        body.checked = original.map(Box::new);
    }
}

/// A loop of the function as it was analyzed: its blocks in reverse postorder, header first.
struct Loop<'l> {
    header: BlockId,
    blocks: &'l [BlockId],
    idom: &'l [Option<BlockId>],
    preds: &'l [Vec<BlockId>],
    defs: &'l HashMap<LocalId, Vec<BlockId>>,
    /// Whether other loops are inside it.
    nest: bool,
}

/// The guards that would version the loop, when its copy would prove more of its checks than
/// the loop does. Costs the loop's size (and its header's predecessors').
fn plan(cx: &Ctx, flow: &Flow, lp: &Loop) -> Option<Vec<Fact>> {
    let body = cx.body;
    let in_loop: HashSet<BlockId> = lp.blocks.iter().copied().collect();
    let assigned = assigned_in(body, lp.blocks);
    let invariant = |t: &Term| !t.any_local(&|x| assigned.contains(&x));
    // Whether `x` has its value before the loop: a parameter, or assigned outside the loop on
    // every way in (a guard must not read a local not yet written).
    let defined = |x: LocalId| {
        body.params.contains(&x) || lp.defs.get(&x).is_some_and(|bs| bs.iter().any(|&b| !in_loop.contains(&b) && dominates(lp.idom, b, lp.header)))
    };
    let mut guards: Vec<Fact> = vec![];
    let mut before = 0;
    each_index(cx, flow, lp.blocks.iter().copied(), &mut |_, e, ok, facts| {
        if ok {
            before += 1;
            return;
        }
        let ExprKind::Index(base, i) = &e.kind else { return };
        let (Some(len), Some(ti)) = (cx.len_of(base), cx.term(i)) else { return };
        if !invariant(&len) {
            return;
        }
        // Bounds of the index that the loop does not change, against the length: the tests
        // that would prove it, those already chosen preferred.
        let wanted = entry_tests(facts, &ti, &len, &invariant);
        let g = match wanted.into_iter().min_by_key(|gs| gs.iter().filter(|g| !guards.contains(g)).count()) {
            Some(gs) => gs,
            // An index the loop changes, in bounds once the loop has started (`root` of heap
            // sort's sift-down is the last round's `child`, which was checked): in bounds on
            // entry, with the same values as the loop then starts with.
            None if !invariant(&ti) && ti.any_local(&|_| true) && !ti.any_local(&|x| !defined(x)) => vec![Fact { strict: true, lo: ti, hi: len }],
            None => return,
        };
        let new: Vec<Fact> = g.into_iter().filter(|g| !guards.contains(g)).collect();
        if guards.len() + new.len() <= MAX_GUARDS {
            guards.extend(new);
        }
    });
    if guards.is_empty() {
        return None;
    }
    // The copy's facts: what holds on the ways into the loop, and the guards; its checks
    // counted on the loop's own blocks (the copy is the same code).
    let mut init: Option<Facts> = None;
    for &p in &lp.preds[lp.header as usize] {
        if in_loop.contains(&p) {
            continue;
        }
        let Some(facts) = flow.entry[p as usize].clone() else { continue };
        for (succ, out) in block_out(cx, facts, p) {
            if succ == lp.header {
                meet(&mut init, &out);
            }
        }
    }
    let mut init = init?;
    // Tests of what is known on the way in anyway are left out.
    guards.retain(|g| !le_known(&init, &g.lo, &g.hi, g.strict));
    if guards.is_empty() {
        return None;
    }
    let span = guard_span(body, lp.header);
    for g in &guards {
        let new = cx.cond_facts(&guard_expr(body, g, span), true, &init);
        add(&mut init, new);
    }
    let copy = analyze_from(cx, lp.blocks, &|b| in_loop.contains(&b), init);
    let (mut after, mut all) = (0, 0);
    each_index(cx, &copy, lp.blocks.iter().copied(), &mut |_, _, ok, _| {
        after += ok as usize;
        all += 1;
    });
    // A loop around others, copied, keeps them from being versioned on their own: only when
    // its copy has no check left.
    (after > before && (!lp.nest || after == all)).then_some(guards)
}

/// Sets of tests of values `invariant` accepts (those a loop does not change) that would
/// prove `idx < len` where `facts` hold, one set for each way `proves` has: `b < len` for an
/// index below `b` (`x + 1` with `x < b`), `b <= len` for one at most `b` (`x - 1` with `x <=
/// b`), `m <= len` and `a <= len - m` for `a + b` with `b < m`.
fn entry_tests(facts: &Facts, idx: &Term, len: &Term, invariant: &impl Fn(&Term) -> bool) -> Vec<Vec<Fact>> {
    let bound = |f: &Fact| invariant(&f.hi) && !matches!(f.hi, Term::Int(_));
    let bound = |f: &Fact| bound(f) && f.hi != *len;
    let test = |strict: bool, lo: &Term, hi: &Term| Fact { strict, lo: lo.clone(), hi: hi.clone() };
    let mut out: Vec<Vec<Fact>> = facts.iter().filter(|f| f.lo == *idx && bound(f)).map(|f| vec![test(!f.strict, &f.hi, len)]).collect();
    match plus_one(idx) {
        Some((x, 1)) => out.extend(facts.iter().filter(|f| f.lo == *x && f.strict && bound(f)).map(|f| vec![test(true, &f.hi, len)])),
        Some((x, _)) if positive(facts, x) => out.extend(facts.iter().filter(|f| f.lo == *x && bound(f)).map(|f| vec![test(false, &f.hi, len)])),
        _ => {}
    }
    if let Term::Bin(BinOp::Add, _, a, b) = idx {
        for (a, b) in [(a, b), (b, a)] {
            if invariant(a) {
                out.extend(facts.iter().filter(|f| f.lo == **b && f.strict && bound(f)).map(|f| vec![test(false, &f.hi, len), test(false, a, &len_minus(len, &f.hi))]));
            }
        }
        for (r, n, c) in rows(a, b) {
            if !invariant(n) || !le_known(facts, c, n, true) {
                continue;
            }
            for f in facts.iter().filter(|f| f.lo == *r && f.strict && invariant(&f.hi) && f.hi != *len) {
                let tests = [test(false, &f.hi, &MAX32), test(false, n, &MAX32), test(false, &product(&f.hi, n), len)];
                // Less those a constant makes true (a width of 32 bits or less, say).
                let mut need: Vec<Fact> = vec![];
                for t in tests {
                    if !le_known(&Facts::new(), &t.lo, &t.hi, t.strict) && !need.contains(&t) {
                        need.push(t);
                    }
                }
                out.push(need);
            }
        }
    }
    out
}

/// Copies the loop behind the guards: all true leads to the copy, any false to the original.
fn apply(body: &mut Body, lp: &Loop, guards: &[Fact]) {
    let n = body.blocks.len() as BlockId;
    let map: HashMap<BlockId, BlockId> = lp.blocks.iter().enumerate().map(|(i, &b)| (b, n + i as BlockId)).collect();
    for &b in lp.blocks {
        let mut blk = body.blocks[b as usize].clone();
        for s in blk.term.successors_mut() {
            if let Some(&c) = map.get(s) {
                *s = c;
            }
        }
        body.blocks.push(blk);
    }
    tests(body, lp, guards, map[&lp.header], lp.header);
}

/// Puts the guards before the loop itself (whose checks they then prove), any false leading
/// to `Terminator::Restart`: no copy of the loop.
fn apply_restart(body: &mut Body, lp: &Loop, guards: &[Fact]) {
    let fail = body.blocks.len() as BlockId;
    body.blocks.push(super::Block { stmts: vec![], term: Terminator::Restart });
    tests(body, lp, guards, lp.header, fail);
}

/// The guards' tests, one block each, all true leading to `then`, any false to `els`; the
/// ways into the loop from outside it now lead to the first.
fn tests(body: &mut Body, lp: &Loop, guards: &[Fact], then: BlockId, els: BlockId) {
    let in_loop: HashSet<BlockId> = lp.blocks.iter().copied().collect();
    let span = guard_span(body, lp.header);
    let first = body.blocks.len() as BlockId;
    let count = guards.len() as BlockId;
    for (k, g) in guards.iter().enumerate() {
        let next = if k as BlockId + 1 == count { then } else { first + k as BlockId + 1 };
        let cond = guard_expr(body, g, span);
        body.blocks.push(super::Block { stmts: vec![], term: Terminator::Branch { cond, then: next, els } });
    }
    // Blocks before the tests: the function's own and copies (which lead to the copy's
    // header, never to the loop's).
    for b in 0..first as usize {
        if in_loop.contains(&(b as BlockId)) {
            continue;
        }
        for s in body.blocks[b].term.successors_mut() {
            if *s == lp.header {
                *s = first;
            }
        }
    }
}

/// Whether nothing on the ways into the loop, from the function's start, could be seen from
/// outside it or runs more than once: no loop, no call, no store but to a local that is not a
/// parameter. Running the function again from its start is then as if the first run had not
/// been (a panic on the way in is the same panic again).
fn quiet_way_in(body: &Body, lp: &Loop, in_loops: &HashSet<BlockId>) -> bool {
    let mut seen = HashSet::new();
    let mut work: Vec<BlockId> = lp.preds[lp.header as usize].iter().copied().filter(|p| !lp.blocks.contains(p)).collect();
    while let Some(b) = work.pop() {
        if !seen.insert(b) {
            continue;
        }
        if in_loops.contains(&b) {
            return false;
        }
        let blk = &body.blocks[b as usize];
        let quiet = |s: &Stmt| match s {
            Stmt::Assign { place, value, .. } => matches!(place.kind, ExprKind::Local(x) if !body.params.contains(&x)) && pure(value),
            _ => false,
        };
        let mut ok = blk.stmts.iter().all(quiet);
        term_exprs(&blk.term, &mut |e| ok &= pure(e));
        if !ok {
            return false;
        }
        work.extend(lp.preds[b as usize].iter().copied());
    }
    true
}

/// An expression without effects: it reads locals and memory and computes.
fn pure(e: &Expr) -> bool {
    let mut ok = true;
    walk(e, &mut |x| {
        ok &= match &x.kind {
            ExprKind::Builtin(b, _) => matches!(b, Builtin::Len | Builtin::SizeOf(_)),
            ExprKind::Call(..) | ExprKind::MapIndex(..) | ExprKind::MapSlot(..) => false,
            _ => true,
        }
    });
    ok
}

fn assigned_in(body: &Body, blocks: &[BlockId]) -> HashSet<LocalId> {
    let mut out = HashSet::new();
    for &b in blocks {
        for s in &body.blocks[b as usize].stmts {
            match s {
                Stmt::Assign { place, .. } => {
                    if let ExprKind::Local(x) = place.kind {
                        out.insert(x);
                    }
                }
                Stmt::LetTuple(xs, _) => out.extend(xs.iter().flatten().copied()),
                Stmt::MapNext { cursor, key, value, .. } => out.extend([*cursor, *key, *value]),
                Stmt::Eval(_) => {}
            }
        }
    }
    out
}

fn guard_span(body: &Body, header: BlockId) -> Span {
    match &body.blocks[header as usize].term {
        Terminator::Branch { cond, .. } => cond.span,
        _ => body.blocks[header as usize].stmts.first().map(|s| match s {
            Stmt::Assign { value: e, .. } | Stmt::LetTuple(_, e) | Stmt::Eval(e) | Stmt::MapNext { map: e, .. } => e.span,
        }).unwrap_or(Span::new(0, 0, 0)),
    }
}

const U64: Ty = Ty::Int { signed: false, bits: 64 };

/// `lo < hi` or `lo <= hi` as an expression, in u64 (terms are unsigned: widening keeps them).
fn guard_expr(body: &Body, g: &Fact, span: Span) -> Expr {
    let op = if g.strict { BinOp::Lt } else { BinOp::Le };
    let (a, b) = (widen(term_expr(body, &g.lo, span), span), widen(term_expr(body, &g.hi, span), span));
    Expr { kind: ExprKind::Binary(op, Box::new(a), Box::new(b)), ty: Ty::Bool, span }
}

fn widen(e: Expr, span: Span) -> Expr {
    if e.ty == U64 {
        return e;
    }
    Expr { kind: ExprKind::Cast(Box::new(e)), ty: U64, span }
}

fn term_expr(body: &Body, t: &Term, span: Span) -> Expr {
    match t {
        Term::Local(x) => {
            let e = Expr { kind: ExprKind::Local(*x), ty: body.locals[*x as usize].ty.clone(), span };
            match e.ty {
                // Its bits, read unsigned (widening a signed value would extend its sign).
                Ty::Int { signed: true, bits } => Expr { kind: ExprKind::Cast(Box::new(e)), ty: Ty::Int { signed: false, bits }, span },
                _ => e,
            }
        }
        Term::Int(v) => Expr { kind: ExprKind::Int(*v as i128), ty: U64, span },
        Term::Len(s) => {
            let slice = Expr { kind: ExprKind::Local(*s), ty: body.locals[*s as usize].ty.clone(), span };
            Expr { kind: ExprKind::Builtin(Builtin::Len, vec![slice]), ty: U64, span }
        }
        Term::Bin(op, bits, a, b) => {
            let ty = Ty::Int { signed: false, bits: *bits };
            let at = |t: &Term| {
                let e = term_expr(body, t, span);
                if e.ty == ty { e } else { Expr { kind: ExprKind::Cast(Box::new(e)), ty: ty.clone(), span } }
            };
            Expr { kind: ExprKind::Binary(*op, Box::new(at(a)), Box::new(at(b))), ty, span }
        }
    }
}
