//! Declaring and resolving module-level items: type names, struct fields, enum values
//! (passes 1 and 2), then functions, globals and the entry points (pass 3).

use super::*;

impl<'a> Checker<'a> {
    // ---- pass 1 and 2: types -------------------------------------------------------------

    pub(super) fn declare_types(&mut self) {
        for m in self.modules {
            self.cur_file = m.file;
            for item in &m.items {
                match item {
                    ast::Item::Struct(s) | ast::Item::ExternStruct(s) => {
                        let id = self.prog.structs.len() as StructId;
                        self.prog.structs.push(StructDef {
                            name: s.name.name.clone(),
                            fields: None,
                            is_extern: matches!(item, ast::Item::ExternStruct(_)),
                            domain: self.domain_of[&m.file],
                            span: s.span,
                        });
                        self.reserved_check(&s.name);
                        self.define(&s.name, Item::Struct(id));
                    }
                    ast::Item::Enum(e) | ast::Item::ExternEnum(e) => {
                        let id = self.prog.enums.len() as EnumId;
                        self.prog.enums.push(EnumDef {
                            name: e.name.name.clone(),
                            base: I32,
                            variants: vec![],
                            domain: self.domain_of[&m.file],
                            span: e.span,
                        });
                        self.reserved_check(&e.name);
                        self.define(&e.name, Item::Enum(id));
                    }
                    _ => {}
                }
            }
        }
    }

    pub(super) fn reserved_check(&mut self, name: &ast::Ident) {
        if Ty::from_prim_name(&name.name).is_some() || name.name == "Mutex" {
            self.err(name.span, format!("`{}` is a reserved type name", name.name));
        }
    }

    pub(super) fn resolve_types(&mut self) {
        let (mut sid, mut eid) = (0usize, 0usize);
        for m in self.modules {
            self.cur_file = m.file;
            for item in &m.items {
                match item {
                    ast::Item::Struct(s) | ast::Item::ExternStruct(s) => {
                        if let Some(fields) = &s.fields {
                            let mut out: Vec<(String, Ty)> = vec![];
                            for f in fields {
                                let ty = self.resolve_type(&f.ty);
                                if out.iter().any(|(n, _)| *n == f.name.name) {
                                    self.err(f.name.span, format!("duplicate field `{}`", f.name.name));
                                }
                                if ty.is_void() {
                                    self.err(f.ty.span, "a field cannot have type void");
                                }
                                out.push((f.name.name.clone(), ty));
                            }
                            self.prog.structs[sid].fields = Some(out);
                        }
                        sid += 1;
                    }
                    ast::Item::Enum(e) | ast::Item::ExternEnum(e) => {
                        let base = self.resolve_type(&e.base);
                        if !base.is_int() && !base.is_error() {
                            self.err(
                                e.span,
                                "Enum backing type must be an integer type (i8, i16, i32, i64, u8, u16, u32, u64)",
                            );
                        }
                        let mut next: i128 = 0;
                        let mut vals = vec![];
                        for v in &e.variants {
                            if let Some(x) = &v.value {
                                match self.const_int(x) {
                                    Some(n) => next = n,
                                    None => self.err(x.span, "enum value must be a constant integer"),
                                }
                            }
                            if vals.iter().any(|(n, _): &(String, i128)| *n == v.name.name) {
                                self.err(v.name.span, format!("duplicate enum variant `{}`", v.name.name));
                            }
                            if let Some((lo, hi)) = base.int_range().filter(|(lo, hi)| !(*lo..=*hi).contains(&next)) {
                                let at = v.value.as_ref().map_or(v.name.span, |x| x.span);
                                let b = self.show(&base);
                                self.err(at, format!("enum value {next} of `{}` does not fit in {b} ({lo}..={hi})", v.name.name));
                            }
                            vals.push((v.name.name.clone(), next));
                            next += 1;
                        }
                        self.prog.enums[eid].base = if base.is_int() { base } else { I32 };
                        self.prog.enums[eid].variants = vals;
                        eid += 1;
                    }
                    _ => {}
                }
            }
        }
        // A struct that contains itself by value has no finite size.
        for id in 0..self.prog.structs.len() {
            if self.contains_struct(&Ty::Struct(id as StructId), id as StructId, 0) {
                let span = self.prog.structs[id].span;
                let name = self.prog.structs[id].name.clone();
                self.err(span, format!("struct `{name}` contains itself (use a pointer)"));
                self.prog.structs[id].fields = Some(vec![]);
            }
        }
    }

    pub(super) fn contains_struct(&self, ty: &Ty, target: StructId, depth: u32) -> bool {
        if depth > 64 {
            return true;
        }
        match ty {
            Ty::Struct(id) => {
                let fields = match &self.prog.structs[*id as usize].fields {
                    Some(f) => f,
                    None => return false,
                };
                fields.iter().any(|(_, t)| {
                    matches!(t, Ty::Struct(x) if *x == target) || self.contains_struct(t, target, depth + 1)
                })
            }
            Ty::Array(_, t) => matches!(**t, Ty::Struct(x) if x == target) || self.contains_struct(t, target, depth + 1),
            Ty::Tuple(ts) => ts.iter().any(|t| self.contains_struct(t, target, depth + 1)),
            _ => false,
        }
    }

    // ---- pass 3: functions and globals ----------------------------------------------------

    pub(super) fn declare_values(&mut self) {
        for m in self.modules {
            self.cur_file = m.file;
            let has_local_cimport = m.items.iter().any(|i| matches!(i, ast::Item::CImport { system: false, .. }));
            let has_cimport = m.items.iter().any(|i| matches!(i, ast::Item::CImport { .. }));
            for item in &m.items {
                match item {
                    ast::Item::Fn(f) | ast::Item::ExternFn(f) => {
                        let is_extern = matches!(item, ast::Item::ExternFn(_));
                        if Ty::from_prim_name(&f.name.name).is_some() {
                            self.err(f.name.span, format!("`{}` is a reserved type name and cannot name a function", f.name.name));
                        }
                        let id = self.declare_fn(f, is_extern, has_local_cimport);
                        self.define(&f.name, Item::Func(id));
                        if !is_extern {
                            self.bodies.push((id, f, m.file));
                        }
                    }
                    ast::Item::Global(v) | ast::Item::ExternVar(v) => {
                        let is_extern = matches!(item, ast::Item::ExternVar(_));
                        let id = self.declare_global(v, is_extern);
                        self.prog.globals[id as usize].via_c_shim = is_extern && has_cimport;
                        self.define(&v.name, Item::Global(id));
                    }
                    _ => {}
                }
            }
        }
    }

    pub(super) fn declare_fn(&mut self, f: &ast::FnDecl, is_extern: bool, via_c_shim: bool) -> FuncId {
        let mut locals = vec![];
        let mut params = vec![];
        for p in &f.params {
            let ty = self.resolve_type(&p.ty);
            if ty.is_void() {
                self.err(p.ty.span, "a parameter cannot have type void");
            }
            params.push(locals.len() as LocalId);
            locals.push(Local { name: p.name.name.clone(), ty, span: p.name.span });
        }
        let ret = f.ret.as_ref().map(|t| self.resolve_type(t)).unwrap_or(Ty::Void);
        let variadic = match (&f.variadic, is_extern) {
            (None, _) => Variadic::None,
            (Some(_), true) => Variadic::C,
            (Some(_), false) => Variadic::Truk,
        };
        let id = self.prog.funcs.len() as FuncId;
        // An extern of a file with a local header may be a `static inline` there: call it
        // through a C wrapper (C varargs cannot be forwarded, so those are called directly).
        let via_c_shim = is_extern && via_c_shim && variadic != Variadic::C;
        let symbol = if f.name.name == "main" && !is_extern {
            "truk_main".to_string()
        } else if via_c_shim {
            format!("__truk_shim_{}", f.name.name)
        } else {
            f.name.name.clone()
        };
        self.prog.funcs.push(Function {
            name: f.name.name.clone(),
            symbol,
            params,
            ret,
            variadic,
            is_extern,
            via_c_shim,
            locals,
            body: None,
            span: f.span,
        });
        id
    }

    pub(super) fn declare_global(&mut self, v: &ast::VarDecl, is_extern: bool) -> GlobalId {
        let ty = match &v.ty {
            Some(t) => self.resolve_type(t),
            None => Ty::Error,
        };
        if ty.is_void() {
            self.err(v.span, "a variable cannot have type void");
        }
        if v.kind == ast::VarKind::Shared {
            self.check_shared_type(&v.name.name, &ty, v.span);
        }
        let mut init = None;
        if let Some(e) = &v.init {
            self.fcx = FnCtx { ret: Ty::Void, ..Default::default() };
            self.fcx.scopes.push(HashMap::default());
            let ex = self.expr(e, Some(&ty));
            let ex = self.coerce(ex, &ty, "Type mismatch in variable initialization", v.span);
            match fold_const(&ex) {
                Some(c) => init = Some(c),
                None if ex.ty.is_error() => {}
                None => self.err(e.span, "a global initializer must be a constant expression"),
            }
        } else if v.kind == ast::VarKind::Const {
            self.err(v.span, "a constant needs a value");
        }
        let id = self.prog.globals.len() as GlobalId;
        self.prog.globals.push(Global {
            name: v.name.name.clone(),
            symbol: v.name.name.clone(),
            ty,
            kind: v.kind,
            is_extern,
            via_c_shim: false,
            init,
            span: v.span,
        });
        id
    }

    pub(super) fn find_entry_points(&mut self) {
        for (i, f) in self.prog.funcs.iter().enumerate() {
            if f.is_extern {
                continue;
            }
            match f.name.as_str() {
                "main" => self.prog.main = Some(i as FuncId),
                "test_setup" => self.prog.test_setup = Some(i as FuncId),
                "test_teardown" => self.prog.test_teardown = Some(i as FuncId),
                n if n.starts_with("test_") => self.prog.tests.push(i as FuncId),
                _ => {}
            }
        }
        if let Some(m) = self.prog.main {
            let f = &self.prog.funcs[m as usize];
            let ok_ret = matches!(f.ret, Ty::Int { .. } | Ty::Void);
            let ok_params = f.params.is_empty()
                || (f.params.len() == 2 && f.locals[0].ty.is_int() && matches!(&f.locals[1].ty, Ty::Ptr(p) if p.is_ptr()));
            let span = f.span;
            if !ok_ret || !ok_params {
                self.err(span, "`main` must be `fn main() : i32` or `fn main(argc: i32, argv: **i8) : i32`");
            }
        }
    }
}
