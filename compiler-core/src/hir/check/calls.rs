//! Calls and builtins: function and pointer calls, the builtin functions, `each`.

use super::*;

impl<'a> Checker<'a> {
    // ---- calls and builtins ----------------------------------------------------------------

    pub(super) fn call(&mut self, callee: &ast::Expr, args: &[ast::Expr], span: Span) -> Expr {
        if let ast::ExprKind::Ident(name) = &callee.kind {
            let shadowed = self.fcx.scopes.iter().any(|s| s.contains_key(name)) || self.lookup(name).is_some();
            if !shadowed {
                if let Some(e) = self.builtin(name, args, span) {
                    return e;
                }
            }
        }
        let f = self.expr(callee, None);
        let (params, ret, c_variadic) = match &f.ty {
            Ty::Fn { params, ret, c_variadic } => (params.to_vec(), (**ret).clone(), *c_variadic),
            Ty::Error => {
                for a in args {
                    self.expr(a, None);
                }
                return err_expr(span);
            }
            _ => {
                let shown = self.show(&f.ty);
                self.err(callee.span, format!("cannot call a value of type `{shown}`"));
                return err_expr(span);
            }
        };
        let truk_variadic = match f.kind {
            ExprKind::Func(id) => self.prog.funcs[id as usize].variadic == Variadic::Truk,
            _ => false,
        };
        let variadic = c_variadic || truk_variadic;
        if args.len() < params.len() || (!variadic && args.len() > params.len()) {
            let (n, more) = (params.len(), if variadic { " or more" } else { "" });
            let mut d = Diagnostic::error(span, format!("Argument count mismatch: expected {n}{more}, found {}", args.len()));
            if let ExprKind::Func(id) = f.kind {
                // Name the function and show its declaration.
                let func = &self.prog.funcs[id as usize];
                let plural = if n == 1 && !variadic { "argument" } else { "arguments" };
                d.message = format!("Argument count mismatch: `{}` takes {n}{more} {plural}, found {}", func.name, args.len());
                d = d.with_related(Diagnostic::note(func.span, format!("`{}` is declared here", func.name)));
            }
            self.diags.push(d);
        }
        let mut out = vec![];
        for (i, a) in args.iter().enumerate() {
            match params.get(i) {
                Some(p) => {
                    let x = self.arg_expr(a, p);
                    let x = self.coerce(x, p, "Argument type mismatch", a.span);
                    out.push(x);
                }
                None => {
                    // Variadic extra: C default promotions (floats to f64, small ints to i32).
                    let x = self.expr(a, None);
                    let x = match &x.ty {
                        Ty::Float { bits: 32 } => self.cast_to(x, &F64),
                        Ty::Int { bits, signed } if *bits < 32 => {
                            let t = Ty::Int { signed: *signed, bits: 32 };
                            self.cast_to(x, &t)
                        }
                        Ty::Bool => self.cast_to(x, &I32),
                        Ty::Enum(id) => {
                            let b = self.prog.enums[*id as usize].base.clone();
                            self.cast_to(x, &b)
                        }
                        Ty::Nil => Expr { ty: Ty::ptr(Ty::Void), ..x },
                        Ty::Struct(_) | Ty::Array(..) | Ty::Tuple(_) | Ty::Void if truk_variadic || c_variadic => {
                            self.err(a.span, "only numbers and pointers can be passed as variadic arguments");
                            x
                        }
                        _ => x,
                    };
                    out.push(x);
                }
            }
        }
        Expr { kind: ExprKind::Call(Box::new(f), out), ty: ret, span }
    }

    /// Builtin calls. `None`: not a builtin name.
    pub(super) fn builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Option<Expr> {
        let type_arg = |c: &mut Self, i: usize| -> Option<Ty> {
            match args.get(i).map(|a| &a.kind) {
                Some(ast::ExprKind::TypeArg(t)) => Some(c.resolve_type(t)),
                _ => None,
            }
        };
        let mk = |kind, ty| Some(Expr { kind, ty, span });
        match name {
            "make" => {
                let Some(t) = type_arg(self, 0) else {
                    self.err(span, "`make` needs a type argument: `make(@T)`, `make(@T, n)` or `make(@map[K, V])`");
                    return Some(err_expr(span));
                };
                match (args.len(), &t) {
                    (1, Ty::Map(k, v)) => mk(ExprKind::Builtin(Builtin::MakeMap(k.clone(), v.clone()), vec![]), t.clone()),
                    (1, _) => mk(ExprKind::Builtin(Builtin::MakeOne(Box::new(t.clone())), vec![]), Ty::ptr(t)),
                    (2, _) => {
                        let n = self.expr(&args[1], Some(&U64));
                        if !n.ty.is_int() && !n.ty.is_error() {
                            self.err(args[1].span, "the element count of `make` must be an integer");
                        }
                        let n = self.cast_to(n, &U64);
                        mk(ExprKind::Builtin(Builtin::MakeSlice(Box::new(t.clone())), vec![n]), Ty::Slice(Box::new(t)))
                    }
                    _ => {
                        self.err(span, "`make` takes a type argument and at most a count");
                        Some(err_expr(span))
                    }
                }
            }
            "delete" => {
                if args.len() != 1 {
                    self.err(span, "`delete` takes one argument");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                let b = match &x.ty {
                    Ty::Error => return Some(err_expr(span)),
                    Ty::Map(..) => Builtin::FreeMap,
                    Ty::Ptr(_) | Ty::Slice(_) => {
                        if let ExprKind::MapIndex(m, k) = x.kind {
                            return mk(ExprKind::Builtin(Builtin::MapRemove, vec![*m, *k]), Ty::Void);
                        }
                        Builtin::Free
                    }
                    _ => {
                        let shown = self.show(&x.ty);
                        self.err(args[0].span, format!("`delete` needs a pointer, slice or map, found `{shown}`"));
                        return Some(err_expr(span));
                    }
                };
                mk(ExprKind::Builtin(b, vec![x]), Ty::Void)
            }
            "len" => {
                if args.len() != 1 {
                    self.err(span, "`len` takes one argument");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                match &x.ty {
                    Ty::Slice(_) => mk(ExprKind::Builtin(Builtin::Len, vec![x]), U64),
                    Ty::Array(n, _) => mk(ExprKind::Int(*n as i128), U64),
                    Ty::Error => Some(err_expr(span)),
                    _ => {
                        self.err(args[0].span, "`len` needs a slice or array");
                        Some(err_expr(span))
                    }
                }
            }
            "sizeof" => {
                let Some(t) = type_arg(self, 0).filter(|_| args.len() == 1) else {
                    self.err(span, "`sizeof` takes one type argument: `sizeof(@T)`");
                    return Some(err_expr(span));
                };
                mk(ExprKind::Builtin(Builtin::SizeOf(Box::new(t)), vec![]), U64)
            }
            "panic" => {
                if args.len() != 1 {
                    self.err(span, "`panic` takes one argument: the message");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                let ok = matches!(&x.ty, Ty::Slice(t) | Ty::Ptr(t) if matches!(**t, Ty::Int { bits: 8, .. })) || x.ty.is_error();
                if !ok {
                    self.err(args[0].span, "`panic` needs a message: a `[]u8` or a string");
                }
                mk(ExprKind::Builtin(Builtin::Panic, vec![x]), Ty::Void)
            }
            "each" => Some(self.each(args, span)),
            "print" | "println" | "eprint" | "eprintln" | "printf" | "eprintf" => Some(self.print_builtin(name, args, span)),
            _ if name.starts_with("__TRUK_VA_ARG_") => {
                let ty = match &name["__TRUK_VA_ARG_".len()..] {
                    "PTR" => Ty::ptr(Ty::Void),
                    "F32" => Ty::Float { bits: 32 },
                    s => Ty::from_prim_name(&s.to_ascii_lowercase()).filter(|t| t.is_numeric())?,
                };
                if !self.fcx.truk_variadic {
                    self.err(span, format!("`{name}` is only available inside a variadic function"));
                }
                if !args.is_empty() {
                    self.err(span, format!("`{name}` takes no arguments"));
                }
                mk(ExprKind::Builtin(Builtin::VaArg(Box::new(ty.clone())), vec![]), ty)
            }
            _ => self.fleet_builtin(name, args, span),
        }
    }

    pub(super) fn each(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if args.len() != 3 {
            self.err(span, "`each` takes three arguments: a collection, a context pointer and a callback");
            return err_expr(span);
        }
        let coll = self.expr(&args[0], None);
        let ctx = self.expr(&args[1], None);
        let cb = self.expr(&args[2], None);
        if coll.ty.is_error() || ctx.ty.is_error() || cb.ty.is_error() {
            return err_expr(span);
        }
        if !ctx.ty.is_ptr() {
            self.err(args[1].span, "the context argument of `each` must be a pointer");
            return err_expr(span);
        }
        let (builtin, want): (Builtin, Vec<Ty>) = match &coll.ty {
            Ty::Map(k, v) => (Builtin::EachMap, vec![(**k).clone(), Ty::ptr((**v).clone()), ctx.ty.clone()]),
            Ty::Slice(t) => (Builtin::EachSlice, vec![Ty::ptr((**t).clone()), ctx.ty.clone()]),
            Ty::Ptr(t) if matches!(**t, Ty::Int { bits: 8, .. }) => (Builtin::EachStr, vec![coll.ty.clone(), ctx.ty.clone()]),
            _ => {
                let shown = self.show(&coll.ty);
                self.err(args[0].span, format!("`each` iterates over maps, slices and strings, not `{shown}`"));
                return err_expr(span);
            }
        };
        let ok = match &cb.ty {
            Ty::Fn { params, ret, .. } => {
                **ret == Ty::Bool
                    && params.len() == want.len()
                    && params.iter().zip(&want).all(|(p, w)| p == w || (p.is_ptr() && w.is_ptr() && matches!((p, w), (Ty::Ptr(a), Ty::Ptr(b)) if a.is_void() || b.is_void())))
            }
            _ => false,
        };
        if !ok {
            let sig: Vec<String> = want.iter().map(|t| self.show(t)).collect();
            self.err(args[2].span, format!("the callback of `each` must be `fn({}) : bool`", sig.join(", ")));
            return err_expr(span);
        }
        Expr { kind: ExprKind::Builtin(builtin, vec![coll, ctx, cb]), ty: Ty::Void, span }
    }
}
