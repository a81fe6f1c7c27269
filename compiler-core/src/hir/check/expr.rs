//! Expressions: names, operators, indexing, fields, struct literals and lambdas.

use super::types::common_type;
use super::*;

impl<'a> Checker<'a> {
    // ---- expressions -----------------------------------------------------------------------

    pub(in crate::hir) fn expr(&mut self, e: &ast::Expr, expected: Option<&Ty>) -> Expr {
        let span = e.span;
        let mk = |kind, ty| Expr { kind, ty, span };
        match &e.kind {
            ast::ExprKind::Int(v) => {
                if *v > u64::MAX as u128 {
                    self.err(span, "integer literal is too large");
                }
                self.int_lit(*v as i128, expected, span)
            }
            ast::ExprKind::Float(v) => {
                let ty = match expected {
                    Some(Ty::Float { bits: 32 }) => Ty::Float { bits: 32 },
                    _ => F64,
                };
                mk(ExprKind::Float(*v), ty)
            }
            ast::ExprKind::Char(c) => {
                let ty = match expected {
                    Some(t @ Ty::Int { .. }) => t.clone(),
                    _ => I8,
                };
                // A byte: `'\xff'` is 255 in a `u8`, -1 in an `i8`.
                let v = if matches!(ty, Ty::Int { signed: false, .. }) { *c as i128 } else { *c as i8 as i128 };
                mk(ExprKind::Int(v), ty)
            }
            ast::ExprKind::Str(s) => {
                let ty = match expected {
                    Some(Ty::Ptr(p)) if matches!(**p, Ty::Int { bits: 8, .. }) => expected.unwrap().clone(),
                    _ => Ty::ptr(U8),
                };
                mk(ExprKind::Str(s.clone()), ty)
            }
            ast::ExprKind::Bool(b) => mk(ExprKind::Bool(*b), Ty::Bool),
            ast::ExprKind::Nil => match expected {
                Some(t) if t.is_nullable() => mk(ExprKind::Nil, t.clone()),
                _ => mk(ExprKind::Nil, Ty::Nil),
            },
            ast::ExprKind::Ident(name) => self.ident(name, span),
            ast::ExprKind::Binary(op, a, b) => self.binary(*op, a, b, expected, span),
            ast::ExprKind::Unary(op, x) => self.unary(*op, x, expected, span),
            ast::ExprKind::Call(callee, args) => self.call(callee, args, span),
            ast::ExprKind::Index(base, idx) => self.index(base, idx, span),
            ast::ExprKind::Field(base, field) => self.field(base, field, false, span),
            ast::ExprKind::Arrow(base, field) => self.field(base, field, true, span),
            ast::ExprKind::Cast(x, t) => {
                let target = self.resolve_type(t);
                let hint = if target.is_numeric() { Some(&target) } else { None };
                // An explicit cast may wrap a literal (`300 as u8`, `-1 as u32`).
                self.wrapping_literals += 1;
                let inner = self.expr(x, hint);
                self.wrapping_literals -= 1;
                if inner.ty.is_error() || target.is_error() {
                    return err_expr(span);
                }
                if !self.castable(&inner.ty, &target) {
                    let (a, b) = (self.show(&inner.ty), self.show(&target));
                    self.err(span, format!("cannot cast `{a}` to `{b}`"));
                    return err_expr(span);
                }
                let mut out = self.cast_to(inner, &target);
                out.span = span;
                out
            }
            ast::ExprKind::StructLit(name, inits) => self.struct_lit(name, inits, span),
            ast::ExprKind::ArrayLit(elems) => {
                let elem_hint = match expected {
                    Some(Ty::Array(_, t)) => Some((**t).clone()),
                    _ => None,
                };
                let mut out = vec![];
                let mut ety = elem_hint.clone();
                for el in elems {
                    let x = self.expr(el, ety.as_ref());
                    let x = match &ety {
                        Some(t) => self.coerce(x, t, "array element type mismatch", el.span),
                        None => {
                            ety = Some(x.ty.clone());
                            x
                        }
                    };
                    out.push(x);
                }
                if let Some(Ty::Array(n, _)) = expected {
                    if *n != out.len() as u64 && !out.is_empty() {
                        self.err(span, format!("array literal has {} elements but the type needs {n}", out.len()));
                    }
                }
                let ety = ety.unwrap_or(I32);
                let n = match expected {
                    Some(Ty::Array(n, _)) => (*n).max(out.len() as u64),
                    _ => out.len() as u64,
                };
                mk(ExprKind::ArrayLit(out), Ty::Array(n, Box::new(ety)))
            }
            ast::ExprKind::TypeArg(_) => {
                self.err(span, "a type argument (`@T`) is only allowed as the first argument of `make` or `sizeof`");
                err_expr(span)
            }
            ast::ExprKind::Lambda(decl) => self.lambda(decl, span),
        }
    }

    /// An integer literal (`v` already negated for `-5`): its type comes from where it is
    /// used, or from its size; a value its integer type cannot hold is an error.
    pub(super) fn int_lit(&mut self, v: i128, expected: Option<&Ty>, span: Span) -> Expr {
        let ty = match expected {
            Some(t @ (Ty::Int { .. } | Ty::Float { .. })) => t.clone(),
            Some(Ty::Enum(id)) => self.prog.enums[*id as usize].base.clone(),
            _ => {
                let m = v.unsigned_abs();
                if m > i64::MAX as u128 && v > 0 {
                    U64
                } else if m > i32::MAX as u128 {
                    I64
                } else {
                    I32
                }
            }
        };
        if ty.is_float() {
            return Expr { kind: ExprKind::Float(v as f64), ty, span };
        }
        if v.unsigned_abs() <= u64::MAX as u128 {
            self.literal_fits(v, &ty, span);
        }
        Expr { kind: ExprKind::Int(v), ty, span }
    }

    /// Error unless the integer type `ty` holds the literal value `v`.
    pub(super) fn literal_fits(&mut self, v: i128, ty: &Ty, span: Span) {
        let Ty::Int { signed, bits } = *ty else { return };
        if self.wrapping_literals > 0 || wrap_int(v, signed, bits) == v {
            return;
        }
        let (lo, hi) = if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        let shown = self.show(ty);
        let d = Diagnostic::error(span, format!("integer literal `{v}` does not fit in `{shown}`"))
            .with_note(format!("note: `{shown}` holds {lo} to {hi}"))
            .with_note(format!("help: to wrap it on purpose, write `{v} as {shown}`"));
        self.diags.push(d);
    }

    pub(super) fn ident(&mut self, name: &str, span: Span) -> Expr {
        for scope in self.fcx.scopes.iter().rev() {
            if let Some(&id) = scope.get(name) {
                self.fcx.used.insert(id);
                let ty = self.fcx.locals[id as usize].ty.clone();
                return Expr { kind: ExprKind::Local(id), ty, span };
            }
        }
        match self.lookup(name) {
            Some(Item::Global(g)) => {
                let gl = &self.prog.globals[g as usize];
                Expr { kind: ExprKind::Global(g), ty: gl.ty.clone(), span }
            }
            Some(Item::Func(f)) => {
                let ty = self.prog.funcs[f as usize].fn_ty();
                Expr { kind: ExprKind::Func(f), ty, span }
            }
            Some(Item::Struct(_) | Item::Enum(_)) => {
                self.err(span, format!("`{name}` is a type, not a value"));
                err_expr(span)
            }
            None => {
                self.undefined(span, name);
                err_expr(span)
            }
        }
    }

    pub(super) fn binary(&mut self, op: ast::BinOp, a: &ast::Expr, b: &ast::Expr, expected: Option<&Ty>, span: Span) -> Expr {
        use ast::BinOp::*;
        if matches!(op, And | Or) {
            let l = self.expr(a, Some(&Ty::Bool));
            let r = self.expr(b, Some(&Ty::Bool));
            if !(matches!(l.ty, Ty::Bool | Ty::Error) && matches!(r.ty, Ty::Bool | Ty::Error)) {
                self.err(span, format!("operator `{}` needs bool operands", op.symbol()));
            }
            return Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty: Ty::Bool, span };
        }
        // An untyped literal takes its type from the other side: check that side first.
        let hint = if op.is_comparison() { None } else { expected.filter(|t| t.is_numeric()) };
        let (l, r) = if is_untyped(a) && !is_untyped(b) {
            let r = self.expr(b, hint);
            let l = self.expr(a, Some(&r.ty));
            (l, r)
        } else {
            let l = self.expr(a, hint);
            let rhint = if matches!(op, Shl | Shr) { None } else { Some(l.ty.clone()) };
            let r = self.expr(b, rhint.as_ref());
            (l, r)
        };
        if l.ty.is_error() || r.ty.is_error() {
            return err_expr(span);
        }
        if op.is_comparison() {
            return self.comparison(op, l, r, span);
        }
        if matches!(op, Shl | Shr | BitAnd | BitOr | BitXor) {
            if !(l.ty.is_int() && r.ty.is_int()) && !(matches!(op, BitAnd | BitOr | BitXor) && l.ty == Ty::Bool && r.ty == Ty::Bool) {
                self.err(span, format!("operator `{}` needs integer operands", op.symbol()));
                return err_expr(span);
            }
            if matches!(op, Shl | Shr) {
                let ty = l.ty.clone();
                let r = self.cast_to(r, &ty);
                return Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span };
            }
        } else if !(l.ty.is_numeric() && r.ty.is_numeric()) {
            self.err(span, "Arithmetic operation requires numeric types");
            return err_expr(span);
        }
        // `%` on floats is allowed: it is C's fmod (LLVM's frem).
        let ty = common_type(&l.ty, &r.ty);
        let l = self.cast_to(l, &ty);
        let r = self.cast_to(r, &ty);
        Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span }
    }

    pub(super) fn comparison(&mut self, op: ast::BinOp, l: Expr, r: Expr, span: Span) -> Expr {
        let mk = |l: Expr, r: Expr| Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty: Ty::Bool, span };
        let ordered = !matches!(op, ast::BinOp::Eq | ast::BinOp::Ne);
        if l.ty.is_numeric() && r.ty.is_numeric() {
            let ty = common_type(&l.ty, &r.ty);
            let (l, r) = (self.cast_to(l, &ty), self.cast_to(r, &ty));
            return mk(l, r);
        }
        let same = l.ty == r.ty;
        let nil_cmp = (l.ty.is_nullable() && matches!(r.ty, Ty::Nil)) || (matches!(l.ty, Ty::Nil) && r.ty.is_nullable());
        let ptr_cmp = l.ty.is_ptr() && r.ty.is_ptr();
        let enum_int = matches!((&l.ty, &r.ty), (Ty::Enum(_), Ty::Int { .. }) | (Ty::Int { .. }, Ty::Enum(_)));
        let ok = match &l.ty {
            Ty::Bool | Ty::Enum(_) | Ty::Ptr(_) | Ty::Fn { .. } | Ty::Map(..) => same || nil_cmp || ptr_cmp || enum_int,
            Ty::Nil => nil_cmp,
            _ => enum_int,
        };
        if !ok || (ordered && matches!(l.ty, Ty::Bool | Ty::Map(..) | Ty::Fn { .. } | Ty::Nil)) {
            let (a, b) = (self.show(&l.ty), self.show(&r.ty));
            self.err(span, format!("cannot compare `{a}` with `{b}` using `{}`", op.symbol()));
            return err_expr(span);
        }
        // Give nil the other side's type so codegen sees one type.
        let (l, r) = if matches!(r.ty, Ty::Nil) {
            let t = l.ty.clone();
            (l, Expr { ty: t, ..r })
        } else if matches!(l.ty, Ty::Nil) {
            let t = r.ty.clone();
            (Expr { ty: t, ..l }, r)
        } else {
            (l, r)
        };
        mk(l, r)
    }

    pub(super) fn unary(&mut self, op: ast::UnOp, x: &ast::Expr, expected: Option<&Ty>, span: Span) -> Expr {
        match op {
            ast::UnOp::Neg => {
                // A negative literal is one value: `-128` fits in i8, `-1` does not in u32.
                if let (ast::ExprKind::Int(v), Some(Ty::Int { .. } | Ty::Float { .. } | Ty::Enum(_)) | None) = (&x.kind, expected) {
                    if *v <= u64::MAX as u128 {
                        return self.int_lit(-(*v as i128), expected, span);
                    }
                }
                let inner = self.expr(x, expected.filter(|t| t.is_numeric()));
                if inner.ty.is_error() {
                    return err_expr(span);
                }
                if !inner.ty.is_numeric() {
                    self.err(span, "negation requires a numeric operand");
                    return err_expr(span);
                }
                // Fold literal negation so `-128` fits in i8.
                match inner.kind {
                    ExprKind::Int(v) => Expr { kind: ExprKind::Int(-v), ty: inner.ty, span },
                    ExprKind::Float(v) => Expr { kind: ExprKind::Float(-v), ty: inner.ty, span },
                    _ => {
                        let ty = inner.ty.clone();
                        Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(inner)), ty, span }
                    }
                }
            }
            ast::UnOp::Not => {
                let inner = self.expr(x, Some(&Ty::Bool));
                if !matches!(inner.ty, Ty::Bool | Ty::Error) {
                    self.err(span, "`!` requires a bool operand");
                    return err_expr(span);
                }
                Expr { kind: ExprKind::Unary(UnOp::Not, Box::new(inner)), ty: Ty::Bool, span }
            }
            ast::UnOp::BitNot => {
                let inner = self.expr(x, expected.filter(|t| t.is_int()));
                if !matches!(inner.ty, Ty::Int { .. } | Ty::Error) {
                    self.err(span, "`~` requires an integer operand");
                    return err_expr(span);
                }
                let ty = inner.ty.clone();
                Expr { kind: ExprKind::Unary(UnOp::BitNot, Box::new(inner)), ty, span }
            }
            ast::UnOp::AddrOf => {
                let inner = self.expr(x, None);
                if inner.ty.is_error() {
                    return err_expr(span);
                }
                if let ExprKind::Func(_) = inner.kind {
                    return inner;
                }
                if !is_place(&inner) {
                    self.err(span, "cannot take the address of a temporary value");
                    return err_expr(span);
                }
                let ty = Ty::ptr(inner.ty.clone());
                Expr { kind: ExprKind::AddrOf(Box::new(inner)), ty, span }
            }
            ast::UnOp::Deref => {
                let inner = self.expr(x, None);
                match &inner.ty {
                    Ty::Ptr(t) if t.is_void() => {
                        self.err(span, "cannot dereference `*void`: cast it to a typed pointer first");
                        err_expr(span)
                    }
                    Ty::Ptr(t) => {
                        let ty = (**t).clone();
                        Expr { kind: ExprKind::Deref(Box::new(inner)), ty, span }
                    }
                    Ty::Error => err_expr(span),
                    _ => {
                        self.err(span, "Dereference requires pointer type");
                        err_expr(span)
                    }
                }
            }
        }
    }

    pub(super) fn index(&mut self, base: &ast::Expr, idx: &ast::Expr, span: Span) -> Expr {
        let b = self.expr(base, None);
        if let Ty::Map(k, v) = &b.ty {
            let (k, v) = ((**k).clone(), (**v).clone());
            let key = self.expr(idx, Some(&k));
            // String keys: any byte pointer or byte slice names the string it holds.
            let bytes = |t: &Ty| matches!(t, Ty::Ptr(b) | Ty::Slice(b) if matches!(**b, Ty::Int { bits: 8, .. }));
            let string_key = k.is_ptr() && bytes(&k) && bytes(&key.ty);
            if !key.ty.is_error() && !string_key && !self.compatible(&key, &k) {
                let (want, got) = (self.show(&k), self.show(&key.ty));
                self.err(idx.span, format!("Map key type mismatch: expected {want} but got {got}"));
                return err_expr(span);
            }
            let key = self.cast_to(key, &k);
            return Expr { kind: ExprKind::MapIndex(Box::new(b), Box::new(key)), ty: Ty::ptr(v), span };
        }
        let i = self.expr(idx, Some(&U64));
        if b.ty.is_error() || i.ty.is_error() {
            return err_expr(span);
        }
        if !i.ty.is_int() {
            self.err(idx.span, "Index must be integer type");
            return err_expr(span);
        }
        let elem = match &b.ty {
            Ty::Array(_, t) | Ty::Slice(t) => (**t).clone(),
            Ty::Ptr(t) if !t.is_void() => (**t).clone(),
            _ => {
                let shown = self.show(&b.ty);
                self.err(base.span, format!("cannot index a value of type `{shown}`"));
                return err_expr(span);
            }
        };
        let i = self.cast_to(i, &U64);
        Expr { kind: ExprKind::Index(Box::new(b), Box::new(i)), ty: elem, span }
    }

    pub(super) fn field(&mut self, base: &ast::Expr, field: &ast::Ident, arrow: bool, span: Span) -> Expr {
        // `Enum.Variant`
        if let (false, ast::ExprKind::Ident(n)) = (arrow, &base.kind) {
            let shadowed = self.fcx.scopes.iter().any(|s| s.contains_key(n));
            if !shadowed {
                if let Some(Item::Enum(id)) = self.lookup(n) {
                    let en = &self.prog.enums[id as usize];
                    let hidden = is_private(&field.name) && en.domain != self.domain_of[&self.cur_file];
                    return match en.variants.iter().find(|(v, _)| *v == field.name) {
                        Some(_) if hidden => {
                            let msg = format!("variant `{n}.{}` is private to the file (or shard) that defines `{n}`", field.name);
                            self.err(field.span, msg);
                            err_expr(span)
                        }
                        Some((_, val)) => Expr { kind: ExprKind::Int(*val), ty: Ty::Enum(id), span },
                        None => {
                            let msg = format!("enum `{n}` has no variant `{}`", field.name);
                            let names: Vec<String> = en.variants.iter().map(|(v, _)| v.clone()).collect();
                            self.err_suggest(field.span, msg, &field.name, names.iter().map(String::as_str));
                            err_expr(span)
                        }
                    };
                }
            }
        }
        let mut b = self.expr(base, None);
        if b.ty.is_error() {
            return err_expr(span);
        }
        if arrow {
            match &b.ty {
                Ty::Ptr(t) => {
                    let ty = (**t).clone();
                    b = Expr { kind: ExprKind::Deref(Box::new(b)), ty, span: base.span };
                }
                _ => {
                    self.err(span, "`->` requires a pointer to a struct");
                    return err_expr(span);
                }
            }
        } else if let Ty::Ptr(t) = &b.ty {
            if matches!(**t, Ty::Struct(_)) {
                self.err(span, format!("`{}` is a pointer: use '->' to access field `{}`", self.show(&b.ty), field.name));
                return err_expr(span);
            }
        }
        match &b.ty {
            Ty::Struct(id) => {
                let sd = &self.prog.structs[*id as usize];
                let Some(fields) = &sd.fields else {
                    let msg = format!("struct `{}` is opaque: its fields are unknown", sd.name);
                    self.err(span, msg);
                    return err_expr(span);
                };
                let hidden = is_private(&field.name) && sd.domain != self.domain_of[&self.cur_file];
                match fields.iter().position(|(n, _)| *n == field.name) {
                    Some(_) if hidden => {
                        let msg = format!("field `{}` of `{}` is private to the file (or shard) that defines it", field.name, sd.name);
                        self.err(field.span, msg);
                        err_expr(span)
                    }
                    Some(i) => {
                        let ty = fields[i].1.clone();
                        Expr { kind: ExprKind::Field(Box::new(b), i as u32), ty, span }
                    }
                    None => {
                        let msg = format!("struct `{}` has no field `{}`", sd.name, field.name);
                        let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
                        self.err_suggest(field.span, msg, &field.name, names.iter().map(String::as_str));
                        err_expr(span)
                    }
                }
            }
            _ => {
                self.err(span, "Member access requires struct type");
                err_expr(span)
            }
        }
    }

    pub(super) fn struct_lit(&mut self, name: &ast::Ident, inits: &[(ast::Ident, ast::Expr)], span: Span) -> Expr {
        let id = match self.lookup(&name.name) {
            Some(Item::Struct(id)) => id,
            _ => {
                self.err(name.span, format!("Unknown struct type: {}", name.name));
                return err_expr(span);
            }
        };
        let Some(fields) = self.prog.structs[id as usize].fields.clone() else {
            self.err(span, format!("struct `{}` is opaque and cannot be built here", name.name));
            return err_expr(span);
        };
        let mut vals: Vec<Option<Expr>> = vec![None; fields.len()];
        for (f, e) in inits {
            match fields.iter().position(|(n, _)| *n == f.name) {
                Some(i) => {
                    let ty = fields[i].1.clone();
                    let x = self.expr(e, Some(&ty));
                    let x = self.coerce(x, &ty, &format!("field `{}` type mismatch", f.name), e.span);
                    if vals[i].is_some() {
                        self.err(f.span, format!("field `{}` is given twice", f.name));
                    }
                    vals[i] = Some(x);
                }
                None => {
                    let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
                    self.err_suggest(f.span, format!("struct `{}` has no field `{}`", name.name, f.name), &f.name, names.iter().map(String::as_str));
                }
            }
        }
        // Missing fields are zero.
        let vals = vals.into_iter().zip(fields).map(|(v, (_, t))| v.unwrap_or(Expr { kind: ExprKind::Zero, ty: t, span })).collect();
        Expr { kind: ExprKind::StructLit(vals), ty: Ty::Struct(id), span }
    }

    pub(super) fn lambda(&mut self, decl: &ast::FnDecl, span: Span) -> Expr {
        self.lambda_count += 1;
        let id = self.declare_fn(decl, false, false);
        let f = &mut self.prog.funcs[id as usize];
        f.name = format!("lambda#{}", self.lambda_count);
        f.symbol = format!("__truk_lambda_{}", self.lambda_count);
        // Lambdas capture nothing: check the body in a fresh context, then restore ours.
        let saved = std::mem::take(&mut self.fcx);
        self.check_body(id, decl);
        self.fcx = saved;
        let ty = self.prog.funcs[id as usize].fn_ty();
        Expr { kind: ExprKind::Func(id), ty, span }
    }
}

/// Untyped: a literal whose type comes from its context.
pub(super) fn is_untyped(e: &ast::Expr) -> bool {
    match &e.kind {
        ast::ExprKind::Int(_) | ast::ExprKind::Float(_) | ast::ExprKind::Char(_) | ast::ExprKind::Nil => true,
        ast::ExprKind::Unary(ast::UnOp::Neg | ast::UnOp::BitNot, x) => is_untyped(x),
        ast::ExprKind::Binary(op, a, b) if !op.is_comparison() && !matches!(op, ast::BinOp::And | ast::BinOp::Or) => {
            is_untyped(a) && is_untyped(b)
        }
        _ => false,
    }
}
