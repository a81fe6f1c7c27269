//! Types.

use super::*;

impl<'s> Builder<'s> {
    pub(super) fn ty(&mut self, p: P<'_>) -> Type {
        let span = self.span(&p);
        if !self.enter(span, "type") {
            self.leave();
            return Type { kind: TypeKind::Named("void".into()), span };
        }
        let kind = match p.as_rule() {
            Rule::prim_ty => TypeKind::Named(p.as_str().to_string()),
            Rule::ident => TypeKind::Named(self.ident(&p).name),
            Rule::ptr_ty => TypeKind::Ptr(Box::new(self.first_ty(p))),
            Rule::slice_ty => TypeKind::Slice(Box::new(self.first_ty(p))),
            Rule::array_ty => {
                let mut k = kids(p);
                let n = self.expr(k.next().expect("grammar: array size"));
                let t = self.ty(k.next().expect("grammar: array element"));
                TypeKind::Array(Box::new(n), Box::new(t))
            }
            Rule::map_ty => {
                let mut k = kids(p);
                let key = self.ty(k.next().expect("grammar: map key"));
                let val = self.ty(k.next().expect("grammar: map value"));
                TypeKind::Map(Box::new(key), Box::new(val))
            }
            Rule::chan_ty => {
                let mut k = kids(p);
                let el = self.ty(k.next().expect("grammar: channel element"));
                let n = self.expr(k.next().expect("grammar: channel capacity"));
                TypeKind::Chan(Box::new(el), Box::new(n))
            }
            Rule::table_ty => {
                let mut k = kids(p);
                let key = self.ty(k.next().expect("grammar: table key"));
                let val = self.ty(k.next().expect("grammar: table value"));
                let n = self.expr(k.next().expect("grammar: table capacity"));
                TypeKind::Table(Box::new(key), Box::new(val), Box::new(n))
            }
            Rule::fn_ty => {
                let mut params = Vec::new();
                let mut ret = None;
                for c in kids(p) {
                    if c.as_rule() == Rule::fn_ty_ret {
                        if let Some(t) = c.into_inner().next() {
                            ret = self.ret_type(t).map(Box::new);
                        }
                    } else {
                        params.push(self.ty(c));
                    }
                }
                TypeKind::Fn(params, ret)
            }
            Rule::tuple_ty => {
                let trailing_comma = p.as_str().trim_end_matches(')').trim_end().ends_with(',');
                let mut elems: Vec<Type> = p.into_inner().map(|c| self.ty(c)).collect();
                if elems.len() == 1 && !trailing_comma {
                    // `(T)` is just T in parentheses.
                    self.leave();
                    return elems.pop().expect("one element");
                }
                TypeKind::Tuple(elems)
            }
            _ => TypeKind::Named("void".into()),
        };
        self.leave();
        Type { kind, span }
    }

    pub(super) fn first_ty(&mut self, p: P<'_>) -> Type {
        let span = self.span(&p);
        match p.into_inner().next() {
            Some(t) => self.ty(t),
            None => Type { kind: TypeKind::Named("void".into()), span },
        }
    }
}
