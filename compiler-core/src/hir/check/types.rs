//! Types: resolving written types to `Ty`, and the implicit and explicit conversions
//! between them (compatibility, coercion, casts, the usual arithmetic conversions).

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn resolve_type(&mut self, t: &ast::Type) -> Ty {
        match &t.kind {
            ast::TypeKind::Named(n) => {
                if let Some(p) = Ty::from_prim_name(n) {
                    return p;
                }
                if n == "Mutex" {
                    return Ty::Mutex;
                }
                match self.lookup(n) {
                    Some(Item::Struct(id)) => Ty::Struct(id),
                    Some(Item::Enum(id)) => Ty::Enum(id),
                    _ => {
                        if self.private_elsewhere(n) {
                            self.err(t.span, format!("type `{n}` is private to the file (or shard) that defines it"));
                        } else {
                            let names = self.type_names();
                            self.err_suggest(t.span, format!("Unknown type: {n}"), n, names.iter().map(String::as_str));
                        }
                        Ty::Error
                    }
                }
            }
            ast::TypeKind::Ptr(inner) => Ty::ptr(self.resolve_type(inner)),
            ast::TypeKind::Array(n, inner) => {
                let elem = self.resolve_type(inner);
                match self.const_int(n) {
                    Some(v) if v >= 0 && v <= u32::MAX as i128 => {
                        let ty = Ty::Array(v as u64, Box::new(elem));
                        self.prog.written_types.push((ty.clone(), t.span));
                        ty
                    }
                    Some(_) => {
                        self.err(n.span, "array size must be between 0 and 4294967295");
                        Ty::Error
                    }
                    None => {
                        self.err(n.span, "array size must be a constant integer");
                        Ty::Error
                    }
                }
            }
            ast::TypeKind::Slice(inner) => Ty::Slice(Box::new(self.resolve_type(inner))),
            ast::TypeKind::Map(k, v) => {
                let kt = self.resolve_type(k);
                let vt = self.resolve_type(v);
                if !self.valid_map_key(&kt) {
                    let shown = self.show(&kt);
                    self.err(k.span, format!("Invalid map key type `{shown}`: keys must be primitive types or strings (*u8, *i8)"));
                }
                Ty::Map(Box::new(kt), Box::new(vt))
            }
            ast::TypeKind::Chan(el, n) => {
                let elem = self.resolve_type(el);
                self.chan_type(el, n, elem)
            }
            ast::TypeKind::Table(k, v, n) => {
                let (kt, vt) = (self.resolve_type(k), self.resolve_type(v));
                self.table_type(k, v, n, kt, vt)
            }
            ast::TypeKind::Tuple(ts) => {
                let ty = Ty::Tuple(ts.iter().map(|t| self.resolve_type(t)).collect());
                self.prog.written_types.push((ty.clone(), t.span));
                ty
            }
            ast::TypeKind::Fn(ps, r) => Ty::Fn {
                params: ps.iter().map(|t| self.resolve_type(t)).collect(),
                ret: Box::new(r.as_ref().map(|r| self.resolve_type(r)).unwrap_or(Ty::Void)),
                c_variadic: false,
            },
        }
    }

    pub(super) fn valid_map_key(&self, t: &Ty) -> bool {
        match t {
            Ty::Int { .. } | Ty::Float { .. } | Ty::Bool | Ty::Enum(_) | Ty::Error => true,
            Ty::Ptr(inner) => matches!(**inner, Ty::Int { bits: 8, .. }),
            _ => false,
        }
    }

    // ---- conversions -----------------------------------------------------------------------

    /// Whether `e` may be used where `target` is expected (implicitly).
    pub(super) fn compatible(&self, e: &Expr, target: &Ty) -> bool {
        let t = &e.ty;
        if t == target || t.is_error() || target.is_error() {
            return true;
        }
        match (t, target) {
            (Ty::Int { .. } | Ty::Float { .. }, Ty::Int { .. } | Ty::Float { .. }) => true,
            (Ty::Nil, x) => x.is_nullable(),
            // `*void` converts to and from any pointer, as in C.
            (Ty::Ptr(a), Ty::Ptr(b)) => a.is_void() || b.is_void() || (**a == **b),
            (Ty::Int { .. }, Ty::Enum(_)) => matches!(e.kind, ExprKind::Int(_)),
            (Ty::Enum(_), Ty::Int { .. }) => true,
            (Ty::Array(n, a), Ty::Array(m, b)) => n == m && a == b,
            (Ty::Tuple(a), Ty::Tuple(b)) => a == b,
            // A string literal is also a byte slice (of its bytes, without the final zero).
            (Ty::Ptr(a), Ty::Slice(b)) => matches!(e.kind, ExprKind::Str(_)) && is_byte(a) && is_byte(b),
            _ => false,
        }
    }

    /// A call argument for a parameter of type `p`. An array literal where a slice is
    /// expected (`f([1, 2, 3])`, `spawn(["worker", "3"])`) becomes a slice of a temporary
    /// array that lives until the end of the statement: only call arguments convert so, as
    /// the callee is done with it when the statement ends (unless it keeps the slice).
    pub(in crate::hir) fn arg_expr(&mut self, a: &ast::Expr, p: &Ty) -> Expr {
        if let (ast::ExprKind::ArrayLit(elems), Ty::Slice(t)) = (&a.kind, p) {
            let arr = Ty::Array(elems.len() as u64, t.clone());
            let x = self.expr(a, Some(&arr));
            let x = self.coerce(x, &arr, "array element type mismatch", a.span);
            return Expr { kind: ExprKind::Cast(Box::new(x)), ty: p.clone(), span: a.span };
        }
        self.expr(a, Some(p))
    }

    pub(in crate::hir) fn coerce(&mut self, e: Expr, target: &Ty, msg: &str, span: Span) -> Expr {
        if e.ty.is_error() || target.is_error() {
            return e;
        }
        if let (ExprKind::ArrayLit(_), Ty::Slice(_)) = (&e.kind, target) {
            let want = self.show(target);
            self.err(span, format!("{msg}: an array literal becomes a slice (`{want}`) only as a call argument, where it lives until the end of the statement; declare an array for a longer life"));
            return err_expr(span);
        }
        if e.ty.is_void() {
            self.err(span, format!("{msg}: the expression has no value (void)"));
            return err_expr(span);
        }
        if let (ExprKind::TupleLit(elems), Ty::Tuple(ts)) = (&e.kind, target) {
            if elems.len() == ts.len() {
                let ExprKind::TupleLit(elems) = e.kind else { unreachable!() };
                let out = elems.into_iter().zip(ts).map(|(x, t)| {
                    let sp = x.span;
                    self.coerce(x, t, msg, sp)
                }).collect();
                return Expr { kind: ExprKind::TupleLit(out), ty: target.clone(), span: e.span };
            }
        }
        if !self.compatible(&e, target) {
            let (want, got) = (self.show(target), self.show(&e.ty));
            self.err(span, format!("{msg}: expected `{want}`, found `{got}`"));
            return err_expr(span);
        }
        if let ExprKind::Int(v) = e.kind {
            if &e.ty != target {
                self.literal_fits(v, target, e.span);
            }
        } else {
            self.narrowing(&e, target);
        }
        self.cast_to(e, target)
    }

    /// Warn of an implicit conversion between integer types that can change the value: to
    /// fewer bits, or between signed and unsigned where the target cannot hold every value.
    fn narrowing(&mut self, e: &Expr, target: &Ty) {
        let (Ty::Int { signed: s, bits: b }, Ty::Int { signed: ts, bits: tb }) = (&e.ty, target) else { return };
        let lossless = (s == ts && tb >= b) || (!s && *ts && tb > b);
        if lossless {
            return;
        }
        let (from, to) = (self.show(&e.ty), self.show(target));
        let what = if tb < b { "narrowing" } else { "sign-changing" };
        let d = Diagnostic::warning(e.span, format!("{what} conversion from `{from}` to `{to}` may change the value"))
            .with_note(format!("help: write `as {to}` if that is what you mean"));
        self.warn(d);
    }

    pub(super) fn castable(&self, from: &Ty, to: &Ty) -> bool {
        let scalar = |t: &Ty| matches!(t, Ty::Int { .. } | Ty::Float { .. } | Ty::Bool | Ty::Enum(_));
        let addr = |t: &Ty| matches!(t, Ty::Ptr(_) | Ty::Fn { .. } | Ty::Nil);
        from == to
            || (scalar(from) && scalar(to))
            || (addr(from) && addr(to))
            || (addr(from) && to.is_int())
            || (from.is_int() && addr(to))
            || matches!((from, to), (Ty::Array(_, a), Ty::Ptr(b)) if a == b)
            || matches!((from, to), (Ty::Slice(a), Ty::Ptr(b)) if a == b)
    }

    /// Wrap `e` in a conversion to `ty` unless it already has that type; literals convert in place.
    pub(super) fn cast_to(&mut self, e: Expr, ty: &Ty) -> Expr {
        if &e.ty == ty || e.ty.is_error() || ty.is_error() {
            return e;
        }
        match (&e.kind, ty) {
            (ExprKind::Int(v), Ty::Int { .. } | Ty::Enum(_)) => return Expr { kind: ExprKind::Int(*v), ty: ty.clone(), span: e.span },
            (ExprKind::Int(v), Ty::Float { .. }) => return Expr { kind: ExprKind::Float(*v as f64), ty: ty.clone(), span: e.span },
            (ExprKind::Float(v), Ty::Float { .. }) => return Expr { kind: ExprKind::Float(*v), ty: ty.clone(), span: e.span },
            (ExprKind::Nil, _) => return Expr { kind: ExprKind::Nil, ty: ty.clone(), span: e.span },
            (ExprKind::Str(_), Ty::Ptr(_)) => return Expr { ty: ty.clone(), ..e },
            _ => {}
        }
        let span = e.span;
        Expr { kind: ExprKind::Cast(Box::new(e)), ty: ty.clone(), span }
    }
}

fn is_byte(t: &Ty) -> bool {
    matches!(t, Ty::Int { bits: 8, .. })
}

/// The usual arithmetic conversions: floats win, then width, then unsignedness.
pub(super) fn common_type(a: &Ty, b: &Ty) -> Ty {
    match (a, b) {
        (Ty::Float { bits: x }, Ty::Float { bits: y }) => Ty::Float { bits: (*x).max(*y) },
        (Ty::Float { .. }, _) => a.clone(),
        (_, Ty::Float { .. }) => b.clone(),
        (Ty::Int { signed: s1, bits: b1 }, Ty::Int { signed: s2, bits: b2 }) => {
            if b1 > b2 {
                a.clone()
            } else if b2 > b1 {
                b.clone()
            } else {
                Ty::Int { signed: *s1 && *s2, bits: *b1 }
            }
        }
        _ => a.clone(),
    }
}
