//! `print`, `println`, `eprint`, `eprintln`, `printf` and `eprintf`: builtins that exist once
//! `import "io"` has declared the runtime's output functions (`std/io.truk`), and that a
//! program's own function of the same name shadows, as every builtin.
//!
//! `println("n = ", n, ", avg = ", avg)` writes each argument formatted by its type, with no
//! format string: it becomes one call per argument, chained through the stream number each
//! call returns so they run in order: `put_end(put_f64(put_str(put_i64(put_str(1, ..), n), ..), avg), true)`.

use super::*;

/// The function that ends every print; its presence means `import "io"` was done.
const PUT_END: &str = "__truk_io_put_end";

impl<'a> Checker<'a> {
    pub(super) fn io_imported(&self) -> bool {
        matches!(self.lookup(PUT_END), Some(Item::Func(_)))
    }

    /// A call of one of this module's builtins (no function of that name exists).
    pub(super) fn print_builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Expr {
        if !self.io_imported() {
            let callee = Span { hi: span.lo + name.len() as u32, ..span };
            self.err(callee, format!("`{name}` is not defined: it comes with the standard library's io module (`import \"io\";`)"));
            for a in args {
                self.expr(a, None);
            }
            return err_expr(span);
        }
        if name.ends_with('f') {
            self.printf(name, args, span)
        } else {
            self.print(name, args, span)
        }
    }

    /// `printf(fmt, ...)` / `eprintf(fmt, ...)`: C's printf on stdout / stderr.
    fn printf(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Expr {
        let target = if name == "printf" { "__truk_io_printf" } else { "__truk_io_eprintf" };
        let callee = ast::Expr { kind: ast::ExprKind::Ident(target.into()), span };
        self.call(&callee, args, span)
    }

    /// `print(a, b, ...)` and its kin: see the module comment.
    fn print(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Expr {
        let stream = if name.starts_with('e') { 2 } else { 1 };
        let mut prev = Expr { kind: ExprKind::Int(stream), ty: I32, span };
        for a in args {
            let Some((helper, value)) = self.printable(a) else { continue };
            prev = self.put_call(helper, vec![prev, value], a.span);
        }
        let newline = Expr { kind: ExprKind::Int(name.ends_with("ln") as i128), ty: I32, span };
        self.put_call(PUT_END, vec![prev, newline], span)
    }

    /// The output helper for one argument and the value to pass it; `None` after an error.
    fn printable(&mut self, a: &ast::Expr) -> Option<(&'static str, Expr)> {
        // A character literal prints as the character; typed bytes print as numbers.
        if let ast::ExprKind::Char(c) = a.kind {
            return Some(("__truk_io_put_char", Expr { kind: ExprKind::Int(c as i128), ty: U8, span: a.span }));
        }
        let x = self.expr(a, None);
        let ty = match &x.ty {
            Ty::Enum(id) => self.prog.enums[*id as usize].base.clone(),
            t => t.clone(),
        };
        let (helper, to) = match &ty {
            Ty::Error => return None,
            Ty::Int { signed: true, .. } => ("__truk_io_put_i64", I64),
            Ty::Int { signed: false, .. } => ("__truk_io_put_u64", U64),
            Ty::Float { bits: 32 } => ("__truk_io_put_f32", ty.clone()),
            Ty::Float { .. } => ("__truk_io_put_f64", ty.clone()),
            // As an `i32`: C's `bool` wants a zero-extended byte, which an LLVM `i1` does not promise.
            Ty::Bool => ("__truk_io_put_bool", I32),
            Ty::Nil => ("__truk_io_put_str", Ty::ptr(U8)),
            Ty::Ptr(t) if matches!(**t, Ty::Int { bits: 8, .. }) => ("__truk_io_put_str", Ty::ptr(U8)),
            Ty::Slice(t) if matches!(**t, Ty::Int { bits: 8, .. }) => ("__truk_io_put_bytes", Ty::Slice(Box::new(U8))),
            Ty::Ptr(_) | Ty::Fn { .. } => ("__truk_io_put_ptr", Ty::ptr(Ty::Void)),
            _ => {
                let shown = self.show(&x.ty);
                self.err(a.span, format!("cannot print a value of type `{shown}`: print numbers, bools, strings (`*u8`, `[]u8`) and pointers"));
                return None;
            }
        };
        let x = if matches!(x.ty, Ty::Enum(_)) { self.cast_to(x, &ty) } else { x };
        let x = match (&x.ty, &to) {
            // `[]i8` and `[]u8` share their layout.
            (Ty::Slice(_), Ty::Slice(_)) => Expr { ty: to.clone(), ..x },
            _ => self.cast_to(x, &to),
        };
        Some((helper, x))
    }

    fn put_call(&mut self, helper: &str, args: Vec<Expr>, span: Span) -> Expr {
        let f = self.expr(&ast::Expr { kind: ast::ExprKind::Ident(helper.into()), span }, None);
        let ret = match &f.ty {
            Ty::Fn { ret, .. } => (**ret).clone(),
            _ => return err_expr(span),
        };
        Expr { kind: ExprKind::Call(Box::new(f), args), ty: ret, span }
    }
}
