//! Top-level items: functions, structs, enums, variables, imports.

use super::*;

impl<'s> Builder<'s> {
    pub(super) fn item(&mut self, p: P<'_>) -> Option<Item> {
        let span = self.span(&p);
        let rule = p.as_rule();
        Some(match rule {
            Rule::fn_decl => Item::Fn(self.fn_decl(p)),
            Rule::extern_fn => Item::ExternFn(self.fn_decl(p)),
            Rule::struct_decl => Item::Struct(self.struct_decl(p)),
            Rule::extern_struct => Item::ExternStruct(self.struct_decl(p)),
            Rule::enum_decl => Item::Enum(self.enum_decl(p)),
            Rule::extern_enum => Item::ExternEnum(self.enum_decl(p)),
            Rule::var_decl => {
                let d = self.var_decl(p, VarKind::Var);
                if d.ty.is_none() {
                    self.error(d.name.span, format!("global variable `{}` needs a type (`var {}: T = ...;`)", d.name.name, d.name.name));
                }
                Item::Global(d)
            }
            Rule::const_decl => Item::Global(self.var_decl(p, VarKind::Const)),
            Rule::shared_decl => Item::Global(self.var_decl(p, VarKind::Shared)),
            Rule::extern_var => Item::ExternVar(self.var_decl(p, VarKind::Var)),
            Rule::import_decl => {
                let k: Vec<_> = kids(p).collect();
                Item::Import { path: self.string_text(&k[0]), span }
            }
            Rule::shard_decl => {
                let k: Vec<_> = kids(p).collect();
                Item::Shard { name: self.string_text(&k[0]), span }
            }
            Rule::cimport_decl => {
                let k: Vec<_> = kids(p).collect();
                let h = &k[0];
                if h.as_rule() == Rule::sys_header {
                    let s = h.as_str();
                    Item::CImport { header: s[1..s.len() - 1].to_string(), system: true, span }
                } else {
                    Item::CImport { header: self.string_text(h), system: false, span }
                }
            }
            _ => return None,
        })
    }

    /// The text of a string literal used as a path or a name.
    pub(super) fn string_text(&mut self, p: &P<'_>) -> String {
        let bytes = self.string_bytes(p.clone());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// `fn` declarations, extern fns and lambdas.
    pub(super) fn fn_decl(&mut self, p: P<'_>) -> FnDecl {
        let span = self.span(&p);
        let is_lambda = p.as_rule() == Rule::lambda;
        let mut name: Option<Ident> = None;
        let mut params = Vec::new();
        let mut variadic = None;
        let mut ret = None;
        let mut body = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::kw_fn if is_lambda => {
                    // Lambdas have no name: give them an empty one at the `fn` keyword.
                    name = Some(Ident { name: String::new(), span: self.span(&c) });
                }
                Rule::ident if !is_lambda && name.is_none() => name = Some(self.ident(&c)),
                Rule::params => {
                    let (ps, va) = self.params(c);
                    params = ps;
                    variadic = va;
                }
                Rule::block => body = Some(self.block(c)),
                r if is_type(r) => ret = self.ret_type(c),
                _ => {}
            }
        }
        let name = name.unwrap_or(Ident { name: String::new(), span });
        FnDecl { name, params, variadic, ret, body, span }
    }

    /// A return type: explicit `void` is the same as none.
    pub(super) fn ret_type(&mut self, p: P<'_>) -> Option<Type> {
        let t = self.ty(p);
        match &t.kind {
            TypeKind::Named(n) if n == "void" => None,
            _ => Some(t),
        }
    }

    pub(super) fn params(&mut self, p: P<'_>) -> (Vec<Param>, Option<Ident>) {
        let mut params = Vec::new();
        let mut variadic: Option<Ident> = None;
        for c in p.into_inner() {
            let cspan = self.span(&c);
            if variadic.is_some() {
                self.error(cspan, "the variadic parameter `...name` must be the last parameter");
                continue;
            }
            match c.as_rule() {
                Rule::param => {
                    let mut k = c.into_inner();
                    let (Some(n), Some(t)) = (k.next(), k.next()) else { continue };
                    let name = self.ident(&n);
                    let ty = self.ty(t);
                    params.push(Param { name, ty });
                }
                Rule::variadic => {
                    if let Some(n) = c.into_inner().next() {
                        variadic = Some(self.ident(&n));
                    }
                }
                _ => {}
            }
        }
        (params, variadic)
    }

    pub(super) fn struct_decl(&mut self, p: P<'_>) -> StructDecl {
        let span = self.span(&p);
        let k: Vec<_> = kids(p).collect();
        let name = self.ident(&k[0]);
        let fields = k.get(1).map(|body| {
            body.clone()
                .into_inner()
                .filter_map(|f| {
                    let mut fk = f.into_inner();
                    let (n, t) = (fk.next()?, fk.next()?);
                    Some(Field { name: self.ident(&n), ty: self.ty(t) })
                })
                .collect()
        });
        StructDecl { name, fields, span }
    }

    pub(super) fn enum_decl(&mut self, p: P<'_>) -> EnumDecl {
        let span = self.span(&p);
        let mut k = kids(p);
        let name = self.ident(&k.next().expect("grammar: enum name"));
        let base = self.ty(k.next().expect("grammar: enum base type"));
        let variants = k
            .map(|v| {
                let mut vk = v.into_inner();
                let name = self.ident(&vk.next().expect("grammar: variant name"));
                let value = vk.next().map(|e| self.expr(e));
                EnumVariant { name, value }
            })
            .collect();
        EnumDecl { name, base, variants, span }
    }

    /// `var`, `const`, `shared var`, `extern var`, and the `var` of a `for` header.
    pub(super) fn var_decl(&mut self, p: P<'_>, kind: VarKind) -> VarDecl {
        let span = self.span(&p);
        let mut k = kids(p);
        let name = self.ident(&k.next().expect("grammar: var name"));
        let mut ty = None;
        let mut init = None;
        for c in k {
            if c.as_rule() == Rule::expr {
                init = Some(self.expr(c));
            } else {
                ty = Some(self.ty(c));
            }
        }
        VarDecl { kind, name, ty, init, span }
    }
}
