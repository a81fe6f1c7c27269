//! Parser: source text -> AST, with the pest grammar in `truk.pest`.
//!
//! The grammar is applied one top-level item at a time (rule `next_item`), so that after a
//! syntax error the parser can skip to the next line that starts a top-level item and report
//! the errors of the rest of the file too. Expressions come out of the grammar as flat
//! `operand (op operand)*` lists and are folded here with an explicit operator stack
//! (no recursion, linear time).
//!
//! Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `|`, `^`, `&`, `<< >>`,
//! `+ -`, `* / %`, `as` (so `-x as i32` is `(-x) as i32` and `a + b as i32` is
//! `a + (b as i32)`), prefix `- ! ~ & *`, postfix call / index / `.` / `->`.

mod errors;
mod expr;
mod items;
mod literals;
mod stmt;
mod types;
#[cfg(test)]
mod tests;

use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use crate::diag::{Diagnostic, Span};
use crate::syntax::ast::*;
use crate::syntax::depth::{self, MAX_DEPTH};

#[derive(Parser)]
#[grammar = "syntax/truk.pest"]
struct TrukGrammar;


/// Parse one source file. Never panics; syntax errors come back as diagnostics, and the
/// module holds every item that parsed.
pub fn parse_module(src: &str, file: u32) -> (Module, Vec<Diagnostic>) {
    let mut b = Builder { file, base: 0, diags: Vec::new(), depth: 0, too_deep: false, _src: std::marker::PhantomData };
    let mut items = Vec::new();
    let mut pos = 0usize;
    while pos <= src.len() {
        let rest = &src[pos..];
        match TrukGrammar::parse(Rule::next_item, rest) {
            Ok(mut pairs) => {
                let Some(next) = pairs.next() else { break };
                let end = next.as_span().end();
                let Some(item) = next.into_inner().next() else { break };
                if item.as_rule() == Rule::EOI {
                    break;
                }
                b.base = pos;
                b.depth = 0;
                b.too_deep = false;
                if let Some(it) = b.item(item) {
                    // Chains (`a + b + ...`, `x.f.g...`, `else if`) are built without recursion:
                    // measure what was built (nesting past the limit was not).
                    if b.too_deep {
                        // It may hold long chains too: not dropped, as in `check_item`.
                        std::mem::forget(it);
                    } else {
                        items.extend(depth::check_item(it, &mut b.diags));
                    }
                }
                if end == 0 {
                    break; // cannot happen (an item is never empty); never loop forever
                }
                pos += end;
            }
            Err(err) => {
                let diag = syntax_error(src, pos, file, &err);
                let at = diag.span.map(|s| s.hi as usize).unwrap_or(pos).max(pos + 1);
                b.diags.push(diag);
                match recovery_point(src, at) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
        }
    }
    (Module { file, items }, b.diags)
}

use errors::{is_keyword, recovery_point, syntax_error, PRIMITIVES};

// ---------------------------------------------------------------- AST building

struct Builder<'s> {
    file: u32,
    /// Offset of the text handed to pest within the file.
    base: usize,
    diags: Vec<Diagnostic>,
    /// Statements, expressions and types the builder is inside (it recurses into them).
    depth: usize,
    /// The current item went past the nesting limit (reported once).
    too_deep: bool,
    _src: std::marker::PhantomData<&'s str>,
}

type P<'i> = Pair<'i, Rule>;

fn is_kw(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        kw_fn | kw_struct | kw_enum | kw_var | kw_const | kw_let | kw_extern | kw_import | kw_cimport
            | kw_shard | kw_shared | kw_if | kw_else | kw_while | kw_for | kw_return | kw_break
            | kw_continue | kw_defer | kw_match | kw_case | kw_as | kw_map
    )
}

/// Children of a pair without the keyword tokens.
fn kids(p: P<'_>) -> Vec<P<'_>> {
    p.into_inner().filter(|c| !is_kw(c.as_rule())).collect()
}

fn is_type(r: Rule) -> bool {
    use Rule::*;
    matches!(r, prim_ty | ptr_ty | slice_ty | array_ty | map_ty | chan_ty | table_ty | fn_ty | tuple_ty | ident)
}

impl<'s> Builder<'s> {
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// A name; reserved words are rejected here rather than in the grammar.
    fn ident(&mut self, p: &P<'_>) -> Ident {
        let id = Ident { name: p.as_str().to_string(), span: self.span(p) };
        if is_keyword(&id.name) {
            let what = if PRIMITIVES.contains(&id.name.as_str()) { " (primitive type names are reserved)" } else { "" };
            self.error(id.span, format!("expected an identifier, found keyword `{}`{what}", id.name));
        }
        id
    }

    /// Enter one nesting level; false (with a diagnostic) when too deep.
    fn enter(&mut self, span: Span, what: &str) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH && !self.too_deep {
            self.too_deep = true;
            self.diags.push(depth::too_deep(Span { hi: span.lo + 1, ..span }, what, None));
        }
        self.depth <= MAX_DEPTH
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

}
