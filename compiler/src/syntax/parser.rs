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

use std::sync::Mutex;

use pest::error::{ErrorVariant, InputLocation};
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

// ---------------------------------------------------------------- syntax errors

/// Turns detailed error collection on while at least one re-parse needs it (the flag is
/// process-wide in pest).
static DETAIL_USERS: Mutex<usize> = Mutex::new(0);

fn with_error_detail<T>(f: impl FnOnce() -> T) -> T {
    {
        let mut n = DETAIL_USERS.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        pest::set_error_detail(true);
    }
    let out = f();
    let mut n = DETAIL_USERS.lock().unwrap_or_else(|e| e.into_inner());
    *n -= 1;
    if *n == 0 {
        pest::set_error_detail(false);
    }
    out
}

/// Build the diagnostic for a pest error found while parsing `src[base..]`.
fn syntax_error(src: &str, base: usize, file: u32, first: &pest::error::Error<Rule>) -> Diagnostic {
    let rest = &src[base..];
    // Re-parse with detailed tracking to learn which literal tokens were expected.
    let detailed = with_error_detail(|| TrukGrammar::parse(Rule::next_item, rest).err());
    let err = detailed.as_ref().unwrap_or(first);
    let rel = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let mut at = (base + rel).min(src.len());
    let mut expected: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    match &err.variant {
        ErrorVariant::CustomError { message } => {
            // pest's own guard: its stack ran out (far beyond the nesting limit).
            if message.contains("limit") {
                return depth::too_deep(Span::new(file, at, at + 1), "code", None);
            }
            return Diagnostic::error(Span::new(file, at, at + 1), message.clone());
        }
        ErrorVariant::ParsingError { positives, .. } => {
            let attempts = err.parse_attempts().filter(|a| a.max_position >= rel);
            match attempts {
                Some(attempts) => {
                    at = (base + attempts.max_position).min(src.len());
                    for tok in attempts.expected_tokens() {
                        // (`ParsingToken` is not exported by pest; its Debug form names the kind.)
                        if format!("{tok:?}").starts_with("Sensitive") {
                            if let Some(d) = describe_token(&tok.to_string()) {
                                push(d);
                            }
                        }
                    }
                    for cs in attempts.call_stacks() {
                        if let Some(d) = cs.deepest.get_rule().and_then(|r| describe_rule(*r)) {
                            push(d);
                        }
                    }
                    if attempts.max_position == rel {
                        for r in positives {
                            if let Some(d) = describe_rule(*r) {
                                push(d);
                            }
                        }
                    }
                }
                None => {
                    for r in positives {
                        if let Some(d) = describe_rule(*r) {
                            push(d);
                        }
                    }
                }
            }
        }
    }
    if let Some(q) = unterminated_string(src, base, at) {
        return Diagnostic::error(Span::new(file, q, q + 1), "unterminated string literal (missing closing `\"`)");
    }
    let mut expected = normalize(expected);
    // `fn f32(`: a reserved word where a name belongs; pest fails just after it.
    if expected.iter().any(|e| e == "an identifier") {
        let before = &src[..at];
        let word_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
        if word_start < at && is_keyword(&before[word_start..]) {
            at = word_start;
            expected = vec!["an identifier".to_string()];
        }
    }
    if expected.iter().any(|e| e == "`*/`") {
        let open = src[..at].rfind("/*").unwrap_or(at);
        return Diagnostic::error(Span::new(file, open, open + 2), "unterminated block comment (missing `*/`)");
    }
    if expected.is_empty() {
        expected.push(describe_rule(Rule::fn_decl).unwrap_or_default());
    }
    let found = describe_found(src, at);
    let msg = format!("expected {}, found {found}", join_or(&expected));
    // A missing `;` (or `)`...) at the end of a line: point just after the previous token.
    let mut lo = at;
    if expected.iter().any(|e| e == "`;`") {
        let before = &src[..at];
        let trimmed = before.trim_end();
        if before[trimmed.len()..].contains('\n') && !trimmed.is_empty() {
            lo = trimmed.len();
        }
    }
    if at >= src.len() {
        // At the end of the file: point just after the last token, not at an empty line.
        lo = src.trim_end().len();
    }
    let hi = if lo == at { token_end(src, at) } else { lo + 1 };
    Diagnostic::error(Span::new(file, lo, hi.max(lo + 1).min(src.len().max(lo + 1))), msg)
}

/// Simplify the raw list of expectations: statement keywords become "a statement",
/// operator spellings "an operator", and what an expression covers goes.
fn normalize(raw: Vec<String>) -> Vec<String> {
    const STMT_KW: [&str; 11] =
        ["`var`", "`const`", "`let`", "`if`", "`while`", "`for`", "`return`", "`break`", "`continue`", "`defer`", "`match`"];
    let has = |s: &str| raw.iter().any(|e| e == s);
    let stmt = raw.iter().filter(|e| STMT_KW.contains(&e.as_str())).count() >= 3;
    let expr = has("an expression");
    let op = has("an operator");
    let mut out: Vec<String> = raw
        .iter()
        .filter(|e| {
            let e = e.as_str();
            // `shared var` parses as a statement only to be refused: not worth suggesting.
            !(stmt && (STMT_KW.contains(&e) || matches!(e, "`{`" | "an expression" | "`fn`" | "`shared`")))
                && !(expr && matches!(e, "`fn`" | "an identifier" | "a string literal" | "`map`"))
                && !(op && (e == "`as`" || (e == "an expression" && !stmt)))
        })
        .cloned()
        .collect();
    if stmt {
        out.push("a statement".into());
    }
    out.sort_by_key(|s| (!s.starts_with('`'), order_key(s)));
    out.dedup();
    out
}

/// The opening quote of a string literal between `from` and the end of the line of `at`
/// that is not closed on its line (a likely cause of a syntax error further on).
fn unterminated_string(src: &str, from: usize, at: usize) -> Option<usize> {
    let b = src.as_bytes();
    let limit = src[at.min(src.len())..].find('\n').map(|i| at + i).unwrap_or(src.len());
    let mut i = from;
    while i < limit {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = src[i + 2..].find("*/").map(|j| i + 2 + j + 2).unwrap_or(b.len());
            }
            q @ (b'"' | b'\'') => {
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => {
                            if q == b'"' && start < at {
                                return Some(start);
                            }
                            break;
                        }
                        Some(b'\\') => i += 2,
                        Some(&c) if c == q => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn order_key(s: &str) -> usize {
    const ORDER: [&str; 9] = ["`;`", "`,`", "`)`", "`]`", "`}`", "`{`", "`:`", "`=`", "`=>`"];
    ORDER.iter().position(|o| *o == s).unwrap_or(ORDER.len())
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Literal tokens of the grammar as a human reads them. Operator spellings collapse to
/// "an operator" (the list would be long and useless).
fn describe_token(tok: &str) -> Option<String> {
    const OPERATORS: [&str; 36] = [
        "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "|", "^", "&", "+", "-", "*", "/",
        "%", "<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "->", ".", "as", "!",
        "~", "(", "[", "=",
    ];
    match tok {
        // These open a call/index or an assignment after an expression; they are covered by
        // "an operator" except when they are all that is expected (handled by the caller).
        t if OPERATORS.contains(&t) && !matches!(t, "=" | "(" | "[" | "*" | "&" | "-" | "!" | "~") => {
            Some("an operator".into())
        }
        "(" | "[" | "*" | "&" | "-" | "!" | "~" => None,
        "=" => Some("`=`".into()),
        "\"" | "'" | "@" | "" | " " | "\t" | "\n" | "\r" | "//" | "/*" => None,
        "0x" | "0X" | "0b" | "0B" | "0o" | "0O" | "e" | "E" | "_" => None,
        t if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => None, // keyword spellings come via rules
        t => Some(format!("`{t}`")),
    }
}

fn describe_rule(r: Rule) -> Option<String> {
    use Rule::*;
    let s = match r {
        EOI => "end of file",
        ident => "an identifier",
        variadic => "`...`",
        wildcard => "`_`",
        field | param => "an identifier",
        variant => "an enum variant",
        fn_decl | struct_decl | enum_decl | shared_decl | extern_fn | extern_struct | extern_var
        | extern_enum | import_decl | cimport_decl | shard_decl => "a declaration (`fn`, `struct`, `enum`, `var`, `const`, `extern`, `import`...)",
        var_decl | const_decl | let_stmt | if_stmt | while_stmt | for_stmt | match_stmt
        | return_stmt | arm_return | break_stmt | continue_stmt | defer_stmt | simple_stmt | simple_stmt_nb
        | for_var => return None,
        block | struct_body => "`{`",
        str_lit => "a string literal",
        expr | cond_expr | int_lit | float_lit | char_lit | true_lit | false_lit | nil_lit
        | lambda | paren | array_lit | type_arg | name_or_struct | name_or_struct_nb | prefix_op | bad_str
        | bad_char => "an expression",
        struct_fields | struct_fields_ne => "`{`",
        field_init => "a field name",
        match_arm => "`case` or `_`",
        prim_ty | ptr_ty | slice_ty | array_ty | map_ty | fn_ty | tuple_ty => "a type",
        fn_ty_ret => "`:`",
        infix | call | index | field_access | arrow | cast | assign_op => "an operator",
        sys_header => "a header name (`<name.h>` or `\"name.h\"`)",
        kw_fn => "`fn`",
        kw_struct => "`struct`",
        kw_enum => "`enum`",
        kw_var => "`var`",
        kw_const => "`const`",
        kw_let => "`let`",
        kw_extern => "`extern`",
        kw_import => "`import`",
        kw_cimport => "`cimport`",
        kw_shard => "`shard`",
        kw_shared => "`shared`",
        kw_if => "`if`",
        kw_else => "`else`",
        kw_while => "`while`",
        kw_for => "`for`",
        kw_return => "`return`",
        kw_break => "`break`",
        kw_continue => "`continue`",
        kw_defer => "`defer`",
        kw_match => "`match`",
        kw_case => "`case`",
        kw_as => "`as`",
        kw_map => "`map`",
        _ => return None,
    };
    Some(s.to_string())
}

/// What sits at `at`, for "found ..." in messages.
fn describe_found(src: &str, at: usize) -> String {
    if at >= src.len() {
        return "end of file".into();
    }
    let end = token_end(src, at);
    let tok = &src[at..end];
    let word = tok.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if word && is_keyword(tok) {
        format!("keyword `{tok}`")
    } else if word {
        format!("`{tok}`")
    } else if tok.starts_with(|c: char| c.is_ascii_digit()) {
        format!("number `{tok}`")
    } else {
        format!("`{tok}`")
    }
}

const PRIMITIVES: [&str; 12] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool", "void"];

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "fn" | "struct" | "enum" | "var" | "const" | "let" | "extern" | "import" | "cimport" | "shard"
            | "shared" | "if" | "else" | "while" | "for" | "return" | "break" | "continue" | "defer"
            | "match" | "case" | "as" | "true" | "false" | "nil" | "map" | "i8" | "i16" | "i32"
            | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64" | "bool" | "void"
    )
}

/// End of the token starting at `at` (a word, a number, or a run of punctuation up to 3).
fn token_end(src: &str, at: usize) -> usize {
    let bytes = src.as_bytes();
    if at >= bytes.len() {
        return at;
    }
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut end = at;
    if is_word(bytes[at]) {
        while end < bytes.len() && is_word(bytes[end]) {
            end += 1;
        }
        return end;
    }
    const PUNCT3: [&str; 3] = ["<<=", ">>=", "..."];
    const PUNCT2: [&str; 17] =
        ["||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "->"];
    for p in PUNCT3 {
        if src[at..].starts_with(p) {
            return at + 3;
        }
    }
    for p in PUNCT2 {
        if src[at..].starts_with(p) {
            return at + 2;
        }
    }
    if src[at..].starts_with("=>") {
        return at + 2;
    }
    // One character (UTF-8 aware).
    at + src[at..].chars().next().map(|c| c.len_utf8()).unwrap_or(1)
}

/// The start of the first line after `at` that begins (in column 0) with a keyword that
/// starts a top-level item.
fn recovery_point(src: &str, at: usize) -> Option<usize> {
    const STARTS: [&str; 10] = ["fn", "struct", "enum", "var", "const", "extern", "import", "cimport", "shard", "shared"];
    let mut line = src[at.min(src.len())..].find('\n').map(|i| at + i + 1)?;
    loop {
        let rest = &src[line..];
        let word_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if STARTS.contains(&&rest[..word_end]) {
            return Some(line);
        }
        line += rest.find('\n')? + 1;
    }
}

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

    // ------------------------------------------------------------ items

    fn item(&mut self, p: P<'_>) -> Option<Item> {
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
                let k = kids(p);
                Item::Import { path: self.string_text(&k[0]), span }
            }
            Rule::shard_decl => {
                let k = kids(p);
                Item::Shard { name: self.string_text(&k[0]), span }
            }
            Rule::cimport_decl => {
                let k = kids(p);
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
    fn string_text(&mut self, p: &P<'_>) -> String {
        let bytes = self.string_bytes(p.clone());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// `fn` declarations, extern fns and lambdas.
    fn fn_decl(&mut self, p: P<'_>) -> FnDecl {
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
    fn ret_type(&mut self, p: P<'_>) -> Option<Type> {
        let t = self.ty(p);
        match &t.kind {
            TypeKind::Named(n) if n == "void" => None,
            _ => Some(t),
        }
    }

    fn params(&mut self, p: P<'_>) -> (Vec<Param>, Option<Ident>) {
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

    fn struct_decl(&mut self, p: P<'_>) -> StructDecl {
        let span = self.span(&p);
        let k = kids(p);
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

    fn enum_decl(&mut self, p: P<'_>) -> EnumDecl {
        let span = self.span(&p);
        let mut k = kids(p).into_iter();
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
    fn var_decl(&mut self, p: P<'_>, kind: VarKind) -> VarDecl {
        let span = self.span(&p);
        let mut k = kids(p).into_iter();
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

    // ------------------------------------------------------------ types

    fn ty(&mut self, p: P<'_>) -> Type {
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
                let mut k = kids(p).into_iter();
                let n = self.expr(k.next().expect("grammar: array size"));
                let t = self.ty(k.next().expect("grammar: array element"));
                TypeKind::Array(Box::new(n), Box::new(t))
            }
            Rule::map_ty => {
                let mut k = kids(p).into_iter();
                let key = self.ty(k.next().expect("grammar: map key"));
                let val = self.ty(k.next().expect("grammar: map value"));
                TypeKind::Map(Box::new(key), Box::new(val))
            }
            Rule::chan_ty => {
                let mut k = kids(p).into_iter();
                let el = self.ty(k.next().expect("grammar: channel element"));
                let n = self.expr(k.next().expect("grammar: channel capacity"));
                TypeKind::Chan(Box::new(el), Box::new(n))
            }
            Rule::table_ty => {
                let mut k = kids(p).into_iter();
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

    fn first_ty(&mut self, p: P<'_>) -> Type {
        let span = self.span(&p);
        match p.into_inner().next() {
            Some(t) => self.ty(t),
            None => Type { kind: TypeKind::Named("void".into()), span },
        }
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let stmts = p.into_inner().map(|s| self.stmt(s)).collect();
        Block { stmts, span }
    }

    fn stmt(&mut self, p: P<'_>) -> Stmt {
        let span = self.span(&p);
        if !self.enter(span, "statement") {
            self.leave();
            return Stmt { kind: StmtKind::Block(Block { stmts: vec![], span }), span };
        }
        let kind = self.stmt_kind(p, span);
        self.leave();
        Stmt { kind, span }
    }

    fn stmt_kind(&mut self, p: P<'_>, span: Span) -> StmtKind {
        match p.as_rule() {
            Rule::var_decl | Rule::for_var => {
                let d = self.var_decl(p, VarKind::Var);
                match d.ty {
                    Some(_) => StmtKind::Var(d),
                    // `var x = e;` without a type: the same as `let x = e;`.
                    None => StmtKind::Let { names: vec![d.name], init: d.init },
                }
            }
            Rule::const_decl => StmtKind::Var(self.var_decl(p, VarKind::Const)),
            // Parsed here so the checker can say that it belongs at module level.
            Rule::shared_decl => StmtKind::Var(self.var_decl(p, VarKind::Shared)),
            Rule::let_stmt => {
                let mut names = Vec::new();
                let mut init = None;
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::ident | Rule::wildcard => names.push(self.ident(&c)),
                        _ => init = Some(self.expr(c)),
                    }
                }
                StmtKind::Let { names, init }
            }
            Rule::if_stmt => {
                let mut k = kids(p).into_iter();
                let cond = self.expr(k.next().expect("grammar: if condition"));
                let then = self.block(k.next().expect("grammar: if block"));
                let els = k.next().map(|e| Box::new(self.stmt(e)));
                StmtKind::If { cond, then, els }
            }
            Rule::while_stmt => {
                let mut k = kids(p).into_iter();
                let cond = self.expr(k.next().expect("grammar: while condition"));
                let body = self.block(k.next().expect("grammar: while block"));
                StmtKind::While { cond, body }
            }
            Rule::for_stmt => {
                let mut k = kids(p).into_iter();
                let init = k.next().and_then(|c| c.into_inner().next()).map(|s| Box::new(self.stmt(s)));
                let cond = k.next().and_then(|c| c.into_inner().next()).map(|e| self.expr(e));
                let step = k.next().and_then(|c| c.into_inner().next()).map(|s| Box::new(self.stmt(s)));
                let body = self.block(k.next().expect("grammar: for block"));
                StmtKind::For { init, cond, step, body }
            }
            Rule::return_stmt | Rule::arm_return => StmtKind::Return(kids(p).into_iter().map(|e| self.expr(e)).collect()),
            Rule::break_stmt => StmtKind::Break,
            Rule::continue_stmt => StmtKind::Continue,
            Rule::defer_stmt => {
                let inner = kids(p).into_iter().next().expect("grammar: defer body");
                StmtKind::Defer(Box::new(self.stmt(inner)))
            }
            Rule::block => StmtKind::Block(self.block(p)),
            Rule::match_stmt => {
                let mut k = kids(p).into_iter();
                let scrutinee = self.expr(k.next().expect("grammar: match scrutinee"));
                let arms = k.map(|a| self.match_arm(a)).collect();
                StmtKind::Match { scrutinee, arms }
            }
            Rule::simple_stmt | Rule::simple_stmt_nb => {
                let mut k = p.into_inner();
                let target = self.expr(k.next().expect("grammar: expression"));
                match (k.next(), k.next()) {
                    (Some(op), Some(value)) => {
                        let value = self.expr(value);
                        StmtKind::Assign { op: assign_op(op.as_str()), target, value }
                    }
                    _ => StmtKind::Expr(target),
                }
            }
            _ => StmtKind::Block(Block { stmts: vec![], span }),
        }
    }

    fn match_arm(&mut self, p: P<'_>) -> MatchArm {
        let span = self.span(&p);
        let mut k = kids(p).into_iter();
        let first = k.next().expect("grammar: match pattern");
        let pattern = if first.as_rule() == Rule::wildcard { None } else { Some(self.expr(first)) };
        let body = self.stmt(k.next().expect("grammar: match arm body"));
        MatchArm { pattern, body, span }
    }

    // ------------------------------------------------------------ expressions

    /// `expr` / `cond_expr`: a flat list of operands (prefix* primary postfix*) and infix
    /// operators, folded with an operator stack.
    fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        if !self.enter(span, "expression") {
            self.leave();
            return Expr { kind: ExprKind::Nil, span };
        }
        let mut items = p.into_inner().peekable();
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(BinOp, u8, Span)> = Vec::new();
        loop {
            // One operand.
            let mut prefixes: Vec<(UnOp, Span)> = Vec::new();
            let mut primary = None;
            for c in items.by_ref() {
                let cs = self.span(&c);
                if c.as_rule() == Rule::prefix_op {
                    let op = match c.as_str() {
                        "-" => UnOp::Neg,
                        "!" => UnOp::Not,
                        "~" => UnOp::BitNot,
                        "&" => UnOp::AddrOf,
                        _ => UnOp::Deref,
                    };
                    prefixes.push((op, cs));
                } else {
                    primary = Some(self.primary(c));
                    break;
                }
            }
            let Some(mut e) = primary else { break };
            // Postfix operators bind tighter than prefix ones, except `as`, which applies
            // after them: `-x as i32` is `(-x) as i32`.
            let mut prefixes_applied = false;
            while let Some(c) = items.peek() {
                let r = c.as_rule();
                if !matches!(r, Rule::call | Rule::index | Rule::field_access | Rule::arrow | Rule::cast) {
                    break;
                }
                let c = items.next().expect("peeked");
                if r == Rule::cast && !prefixes_applied {
                    e = apply_prefixes(e, &mut prefixes);
                    prefixes_applied = true;
                }
                e = self.postfix(e, c);
            }
            if !prefixes_applied {
                e = apply_prefixes(e, &mut prefixes);
            }
            operands.push(e);
            // Then an infix operator, or the end.
            let Some(op) = items.next() else { break };
            let opspan = self.span(&op);
            let bop = bin_op(op.as_str());
            let prec = precedence(bop);
            while let Some(&(top, tp, _)) = ops.last() {
                if tp < prec {
                    break;
                }
                ops.pop();
                reduce(&mut operands, top);
            }
            ops.push((bop, prec, opspan));
        }
        while let Some((top, _, _)) = ops.pop() {
            reduce(&mut operands, top);
        }
        self.leave();
        operands.pop().unwrap_or(Expr { kind: ExprKind::Nil, span })
    }

    fn postfix(&mut self, e: Expr, c: P<'_>) -> Expr {
        let cspan = self.span(&c);
        let span = e.span.to(cspan);
        let kind = match c.as_rule() {
            Rule::call => {
                let args = c.into_inner().map(|a| self.expr(a)).collect();
                ExprKind::Call(Box::new(e), args)
            }
            Rule::index => {
                let i = self.expr(c.into_inner().next().expect("grammar: index"));
                ExprKind::Index(Box::new(e), Box::new(i))
            }
            Rule::field_access => {
                let n = self.ident(&c.into_inner().next().expect("grammar: field"));
                ExprKind::Field(Box::new(e), n)
            }
            Rule::arrow => {
                let n = self.ident(&c.into_inner().next().expect("grammar: field"));
                ExprKind::Arrow(Box::new(e), n)
            }
            _ => {
                let t = kids(c).into_iter().next().expect("grammar: cast type");
                let t = self.ty(t);
                ExprKind::Cast(Box::new(e), t)
            }
        };
        Expr { kind, span }
    }

    fn primary(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::paren => {
                let inner = p.into_inner().next().expect("grammar: parenthesized expression");
                let mut e = self.expr(inner);
                e.span = span;
                return e;
            }
            Rule::int_lit => ExprKind::Int(self.int_value(p.as_str(), span)),
            Rule::float_lit => ExprKind::Float(p.as_str().parse().unwrap_or(0.0)),
            Rule::str_lit => ExprKind::Str(self.string_bytes(p)),
            Rule::char_lit => ExprKind::Char(self.char_value(p)),
            Rule::bad_str => {
                self.error(span, "unterminated string literal (missing closing `\"`)");
                ExprKind::Str(Vec::new())
            }
            Rule::bad_char => {
                let s = Span { lo: span.lo + 1, ..span };
                let s = if s.lo >= s.hi { span } else { s };
                self.error(s, "unterminated character literal (missing closing `'`)");
                ExprKind::Char(0)
            }
            Rule::true_lit => ExprKind::Bool(true),
            Rule::false_lit => ExprKind::Bool(false),
            Rule::nil_lit => ExprKind::Nil,
            Rule::array_lit => ExprKind::ArrayLit(p.into_inner().map(|e| self.expr(e)).collect()),
            Rule::type_arg => {
                let t = p.into_inner().next().expect("grammar: type argument");
                ExprKind::TypeArg(self.ty(t))
            }
            Rule::name_or_struct | Rule::name_or_struct_nb => {
                let mut k = p.into_inner();
                let name = self.ident(&k.next().expect("grammar: name"));
                match k.next() {
                    None => ExprKind::Ident(name.name),
                    Some(fields) => {
                        let fields = fields
                            .into_inner()
                            .map(|f| {
                                let mut fk = f.into_inner();
                                let n = self.ident(&fk.next().expect("grammar: field name"));
                                let v = self.expr(fk.next().expect("grammar: field value"));
                                (n, v)
                            })
                            .collect();
                        ExprKind::StructLit(name, fields)
                    }
                }
            }
            Rule::lambda => ExprKind::Lambda(Box::new(self.fn_decl(p))),
            _ => ExprKind::Nil,
        };
        Expr { kind, span }
    }

    // ------------------------------------------------------------ literals

    fn int_value(&mut self, text: &str, span: Span) -> u128 {
        let (digits, radix) = match text.get(..2) {
            Some("0x" | "0X") => (&text[2..], 16),
            Some("0b" | "0B") => (&text[2..], 2),
            Some("0o" | "0O") => (&text[2..], 8),
            _ => (text, 10),
        };
        let mut v: u128 = 0;
        for ch in digits.chars() {
            let d = ch.to_digit(radix).unwrap_or(0) as u128;
            match v.checked_mul(radix as u128).and_then(|x| x.checked_add(d)) {
                Some(n) if n <= u64::MAX as u128 => v = n,
                _ => {
                    self.error(span, format!("integer literal `{text}` is too large (the largest is {})", u64::MAX));
                    return 0;
                }
            }
        }
        v
    }

    /// Bytes of a string literal (`str_lit` pair) after escape processing.
    fn string_bytes(&mut self, p: P<'_>) -> Vec<u8> {
        let Some(inner) = p.into_inner().next() else { return Vec::new() };
        let start = self.base + inner.as_span().start();
        self.unescape(inner.as_str(), start)
    }

    fn char_value(&mut self, p: P<'_>) -> u8 {
        let span = self.span(&p);
        let Some(inner) = p.into_inner().next() else { return 0 };
        let start = self.base + inner.as_span().start();
        let text = inner.as_str();
        if text.is_empty() {
            self.error(span, "empty character literal");
            return 0;
        }
        let errors_before = self.diags.len();
        let bytes = self.unescape(text, start);
        if self.diags.len() > errors_before {
            return 0;
        }
        if bytes.len() != 1 {
            let inside = Span::new(self.file, start, start + text.len());
            if text.starts_with('\\') || text.chars().count() > 1 {
                self.error(inside, "character literal holds more than one character");
            } else {
                self.error(inside, "character literal does not fit in one byte (only ASCII is allowed)");
            }
            return 0;
        }
        bytes[0]
    }

    /// Process escapes of a literal's body; `start` is its offset in the file.
    fn unescape(&mut self, text: &str, start: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != b'\\' {
                out.push(b);
                i += 1;
                continue;
            }
            let Some(&e) = bytes.get(i + 1) else {
                out.push(b'\\');
                break;
            };
            let v = match e {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'\\' => b'\\',
                b'\'' => b'\'',
                b'"' => b'"',
                b'x' => {
                    let hex = text.get(i + 2..i + 4).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                    match hex {
                        Some(h) => {
                            out.push(u8::from_str_radix(h, 16).unwrap_or(0));
                            i += 4;
                            continue;
                        }
                        None => {
                            let span = Span::new(self.file, start + i, start + i + 2);
                            self.error(span, "`\\x` must be followed by two hexadecimal digits");
                            i += 2;
                            continue;
                        }
                    }
                }
                _ => {
                    let ch = text[i + 1..].chars().next().unwrap_or('?');
                    let span = Span::new(self.file, start + i, start + i + 1 + ch.len_utf8());
                    self.error(span, format!("unknown escape sequence `\\{ch}`"));
                    i += 1 + ch.len_utf8();
                    continue;
                }
            };
            out.push(v);
            i += 2;
        }
        out
    }
}

fn apply_prefixes(mut e: Expr, prefixes: &mut Vec<(UnOp, Span)>) -> Expr {
    while let Some((op, s)) = prefixes.pop() {
        let span = s.to(e.span);
        e = Expr { kind: ExprKind::Unary(op, Box::new(e)), span };
    }
    e
}

fn reduce(operands: &mut Vec<Expr>, op: BinOp) {
    let (Some(r), Some(l)) = (operands.pop(), operands.pop()) else { return };
    let span = l.span.to(r.span);
    operands.push(Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), span });
}

fn bin_op(s: &str) -> BinOp {
    use BinOp::*;
    match s {
        "||" => Or,
        "&&" => And,
        "==" => Eq,
        "!=" => Ne,
        "<" => Lt,
        "<=" => Le,
        ">" => Gt,
        ">=" => Ge,
        "|" => BitOr,
        "^" => BitXor,
        "&" => BitAnd,
        "<<" => Shl,
        ">>" => Shr,
        "+" => Add,
        "-" => Sub,
        "*" => Mul,
        "/" => Div,
        _ => Rem,
    }
}

/// Binding power of binary operators (all left-associative).
fn precedence(op: BinOp) -> u8 {
    use BinOp::*;
    match op {
        Or => 1,
        And => 2,
        Eq | Ne => 3,
        Lt | Le | Gt | Ge => 4,
        BitOr => 5,
        BitXor => 6,
        BitAnd => 7,
        Shl | Shr => 8,
        Add | Sub => 9,
        Mul | Div | Rem => 10,
    }
}

fn assign_op(s: &str) -> Option<BinOp> {
    use BinOp::*;
    Some(match s {
        "+=" => Add,
        "-=" => Sub,
        "*=" => Mul,
        "/=" => Div,
        "%=" => Rem,
        "&=" => BitAnd,
        "|=" => BitOr,
        "^=" => BitXor,
        "<<=" => Shl,
        ">>=" => Shr,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{render_all, SourceMap};
    use std::path::{Path, PathBuf};

    fn parse_ok(src: &str) -> Module {
        let (m, d) = parse_module(src, 0);
        assert!(d.is_empty(), "unexpected errors for {src:?}: {}", render(src, &d));
        m
    }

    fn render(src: &str, diags: &[Diagnostic]) -> String {
        let mut sm = SourceMap::default();
        sm.add(PathBuf::from("test.truk"), src.to_string());
        render_all(diags, &sm)
    }

    fn errors(src: &str) -> String {
        let (_, d) = parse_module(src, 0);
        render(src, &d)
    }

    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else if p.extension().is_some_and(|x| x == "truk") {
                out.push(p);
            }
        }
    }

    /// Files of the corpus that must fail to parse, and why.
    const SYNTAX_REJECTS: [&str; 4] = [
        "reject/char/test_char_empty.truk",            // ''
        "reject/char/test_char_invalid_escape.truk",   // '\q'
        "reject/char/test_char_multiple.truk",         // 'ab'
        "reject/char/test_char_unterminated.truk",     // 'a;
    ];

    /// The statements of `fn main() { BODY }`.
    fn body(src: &str) -> Vec<Stmt> {
        let m = parse_ok(&format!("fn main() : i32 {{\n{src}\n}}\n"));
        match &m.items[0] {
            Item::Fn(f) => f.body.clone().unwrap().stmts,
            _ => panic!("not a fn"),
        }
    }

    fn expr_of(src: &str) -> Expr {
        match body(&format!("return {src};")).remove(0).kind {
            StmtKind::Return(mut v) => v.remove(0),
            k => panic!("{k:?}"),
        }
    }

    /// A compact rendering of an expression, fully parenthesized.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Float(v) => format!("{v:?}"),
            ExprKind::Str(b) => format!("{:?}", String::from_utf8_lossy(b)),
            ExprKind::Char(c) => format!("'{}'", *c as u32),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Nil => "nil".into(),
            ExprKind::Ident(n) => n.clone(),
            ExprKind::Binary(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
            ExprKind::Unary(op, x) => format!("({op:?} {})", show(x)),
            ExprKind::Call(f, a) => format!("{}({})", show(f), a.iter().map(show).collect::<Vec<_>>().join(", ")),
            ExprKind::Index(a, i) => format!("{}[{}]", show(a), show(i)),
            ExprKind::Field(a, f) => format!("{}.{}", show(a), f.name),
            ExprKind::Arrow(a, f) => format!("{}->{}", show(a), f.name),
            ExprKind::Cast(a, t) => format!("({} as {})", show(a), show_ty(t)),
            ExprKind::StructLit(n, f) => format!(
                "{}{{{}}}",
                n.name,
                f.iter().map(|(n, e)| format!("{}: {}", n.name, show(e))).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::ArrayLit(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(", ")),
            ExprKind::TypeArg(t) => format!("@{}", show_ty(t)),
            ExprKind::Lambda(f) => format!("fn/{}", f.params.len()),
        }
    }

    fn show_ty(t: &Type) -> String {
        match &t.kind {
            TypeKind::Named(n) => n.clone(),
            TypeKind::Ptr(t) => format!("*{}", show_ty(t)),
            TypeKind::Array(n, t) => format!("[{}]{}", show(n), show_ty(t)),
            TypeKind::Slice(t) => format!("[]{}", show_ty(t)),
            TypeKind::Map(k, v) => format!("map[{}, {}]", show_ty(k), show_ty(v)),
            TypeKind::Chan(t, n) => format!("chan[{}, {}]", show_ty(t), show(n)),
            TypeKind::Table(k, v, n) => format!("table[{}, {}, {}]", show_ty(k), show_ty(v), show(n)),
            TypeKind::Tuple(v) => format!("({})", v.iter().map(show_ty).collect::<Vec<_>>().join(", ")),
            TypeKind::Fn(p, r) => format!(
                "fn({}){}",
                p.iter().map(show_ty).collect::<Vec<_>>().join(", "),
                r.as_ref().map(|r| format!(" : {}", show_ty(r))).unwrap_or_default()
            ),
        }
    }

    fn var_ty(src: &str) -> String {
        match body(&format!("var v: {src};")).remove(0).kind {
            StmtKind::Var(d) => show_ty(d.ty.as_ref().unwrap()),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(show(&expr_of("1 + 2 * 3 - 4")), "((1 + (2 * 3)) - 4)");
        assert_eq!(show(&expr_of("a || b && c == d")), "(a || (b && (c == d)))");
        assert_eq!(show(&expr_of("a < b == c > d")), "((a < b) == (c > d))");
        assert_eq!(show(&expr_of("a | b ^ c & d << 1 + 2")), "(a | (b ^ (c & (d << (1 + 2)))))");
        assert_eq!(show(&expr_of("x & 1 == 0")), "((x & 1) == 0)");
        assert_eq!(show(&expr_of("a % b / c")), "((a % b) / c)");
        assert_eq!(show(&expr_of("-x as i32")), "((Neg x) as i32)");
        assert_eq!(show(&expr_of("*ptr as i32")), "((Deref ptr) as i32)");
        assert_eq!(show(&expr_of("a + b as i32")), "(a + (b as i32))");
        assert_eq!(show(&expr_of("b as u8 as i32")), "((b as u8) as i32)");
        assert_eq!(show(&expr_of("-a.b[1](2)->c")), "(Neg a.b[1](2)->c)");
        assert_eq!(show(&expr_of("!&*p")), "(Not (AddrOf (Deref p)))");
        assert_eq!(show(&expr_of("(a + b) * c")), "((a + b) * c)");
        assert_eq!(show(&expr_of("a - -b")), "(a - (Neg b))");
        assert_eq!(show(&expr_of("a >= b && c <= d && e != f")), "(((a >= b) && (c <= d)) && (e != f))");
        assert_eq!(show(&expr_of("a >> 2 << 3")), "((a >> 2) << 3)");
    }

    #[test]
    fn literals() {
        assert_eq!(show(&expr_of("0x2A + 0b101 + 0o17 + 42")), "(((42 + 5) + 15) + 42)");
        assert_eq!(show(&expr_of("0xFFFFFFFFFFFFFFFF")), u64::MAX.to_string());
        assert_eq!(show(&expr_of("1.5 + 1.0e10 + 2.5e-3 + 2.0e+2")), "(((1.5 + 10000000000.0) + 0.0025) + 200.0)");
        assert_eq!(show(&expr_of(r#""a\n\t\\\"\0\r\x41""#)), format!("{:?}", "a\n\t\\\"\0\rA"));
        assert_eq!(show(&expr_of(r"'a'")), "'97'");
        for (lit, v) in [(r"'\n'", 10), (r"'\''", 39), (r"'\\'", 92), (r"'\0'", 0), (r"'\x41'", 65), ("'('", 40), ("'\"'", 34)] {
            assert_eq!(show(&expr_of(lit)), format!("'{v}'"), "{lit}");
        }
        assert_eq!(show(&expr_of("true && false || nil")), "((true && false) || nil)");
        assert_eq!(show(&expr_of("[1, 2, 3,]")), "[1, 2, 3]");
        assert_eq!(show(&expr_of("[]")), "[]");
        assert_eq!(show(&expr_of("Point{x: 1, y: p.y}")), "Point{x: 1, y: p.y}");
        assert_eq!(show(&expr_of("Point {\n x: 1,\n y: 2,\n}")), "Point{x: 1, y: 2}");
        assert_eq!(show(&expr_of("Empty{}")), "Empty{}");
        assert_eq!(show(&expr_of("make(@map[*u8, i32])")), "make(@map[*u8, i32])");
        assert_eq!(show(&expr_of("sizeof(@*i32) + sizeof(@[5]i32)")), "(sizeof(@*i32) + sizeof(@[5]i32))");
        assert_eq!(show(&expr_of("fn(a: i32, b: i32) : i32 { return a; }(1, 2)")), "fn/2(1, 2)");
        assert_eq!(show(&expr_of("Color.RED")), "Color.RED");
    }

    #[test]
    fn literal_errors() {
        for (src, msg) in [
            ("return 18446744073709551616;", "too large"),
            ("return 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF;", "too large"),
            ("return '';", "empty character literal"),
            ("return '\\q';", "unknown escape sequence `\\q`"),
            ("return 'ab';", "more than one character"),
            ("return 'a;", "unterminated character literal"),
            ("return \"abc;", "unterminated string literal"),
            ("return \"\\x4\";", "two hexadecimal digits"),
            ("return 12abc;", "expected"),
        ] {
            let (_, d) = parse_module(&format!("fn main() : i32 {{\n{src}\n}}\n"), 0);
            assert!(!d.is_empty() && d[0].message.contains(msg), "{src}: {:?}", d);
            assert!(d[0].span.unwrap().lo >= 18, "{src}: error on line 2");
        }
    }

    #[test]
    fn types() {
        assert_eq!(var_ty("[3][4]i32"), "[3][4]i32");
        assert_eq!(var_ty("[]*u8"), "[]*u8");
        assert_eq!(var_ty("**i8"), "**i8");
        assert_eq!(var_ty("map[*u8, map[i32, [2]i32]]"), "map[*u8, map[i32, [2]i32]]");
        assert_eq!(var_ty("(i32, *u8)"), "(i32, *u8)");
        assert_eq!(var_ty("(i32)"), "i32");
        assert_eq!(var_ty("fn(i32, i32) : i32"), "fn(i32, i32) : i32");
        assert_eq!(var_ty("fn() : void"), "fn()");
        assert_eq!(var_ty("fn(*Point)"), "fn(*Point)");
        assert_eq!(var_ty("(i32, fn(i32) : i32, i32)"), "(i32, fn(i32) : i32, i32)");
        assert_eq!(var_ty("[N]Entry"), "[N]Entry");
        assert_eq!(var_ty("Mutex"), "Mutex");
    }

    #[test]
    fn statements() {
        let s = body(
            "var i: u64 = 0;\nconst K: i32 = 5;\nlet a, _, c = f();\nlet x = 1;\nlet y;\ni += 1; i -= 1; i *= 2; i /= 2; i %= 3; i &= 1; i |= 2; i ^= 3; i <<= 1; i >>= 1;\n\
             p->x = 3;\nf(1);\n{ var z: i32 = 1; }\nreturn a, b;",
        );
        assert!(matches!(&s[0].kind, StmtKind::Var(d) if d.kind == VarKind::Var && d.init.is_some()));
        assert!(matches!(&s[1].kind, StmtKind::Var(d) if d.kind == VarKind::Const));
        assert!(matches!(&s[2].kind, StmtKind::Let { names, init: Some(_) } if names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>() == ["a", "_", "c"]));
        assert!(matches!(&s[3].kind, StmtKind::Let { names, .. } if names.len() == 1));
        assert!(matches!(&s[4].kind, StmtKind::Let { init: None, .. }));
        let ops: Vec<_> = s[5..15]
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Assign { op: Some(op), .. } => op.symbol(),
                k => panic!("{k:?}"),
            })
            .collect();
        assert_eq!(ops, ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
        assert!(matches!(&s[15].kind, StmtKind::Assign { op: None, target: Expr { kind: ExprKind::Arrow(..), .. }, .. }));
        assert!(matches!(&s[16].kind, StmtKind::Expr(Expr { kind: ExprKind::Call(..), .. })));
        assert!(matches!(&s[17].kind, StmtKind::Block(b) if b.stmts.len() == 1));
        assert!(matches!(&s[18].kind, StmtKind::Return(v) if v.len() == 2));
        // `var x = e;` without a type inside a function is a `let`.
        assert!(matches!(&body("var f = fn(x: i32) : i32 { return x; };")[0].kind, StmtKind::Let { .. }));
    }

    #[test]
    fn control_flow() {
        let s = body(
            "if a == b { x = 1; } else if c { x = 2; } else { x = 3; }\n\
             while i < n { i += 1; break; continue; }\n\
             for var i: u64 = 0; i < n; i += 1 { }\n\
             for ; ; { break; }\n\
             for i = 0; i < 10; i = i + 1 as u64 { }\n\
             defer x = x + 1;\n\
             defer { free(p); }\n\
             if x == y { }\n\
             while p == q {}",
        );
        match &s[0].kind {
            StmtKind::If { cond, els: Some(e), .. } => {
                assert_eq!(show(cond), "(a == b)");
                assert!(matches!(&e.kind, StmtKind::If { els: Some(_), .. }));
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(&s[1].kind, StmtKind::While { body, .. } if body.stmts.len() == 3));
        match &s[2].kind {
            StmtKind::For { init: Some(i), cond: Some(_), step: Some(st), .. } => {
                assert!(matches!(i.kind, StmtKind::Var(_)));
                assert!(matches!(st.kind, StmtKind::Assign { op: Some(BinOp::Add), .. }));
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(&s[3].kind, StmtKind::For { init: None, cond: None, step: None, .. }));
        assert!(matches!(&s[4].kind, StmtKind::For { init: Some(_), .. }));
        assert!(matches!(&s[5].kind, StmtKind::Defer(d) if matches!(d.kind, StmtKind::Assign { .. })));
        assert!(matches!(&s[6].kind, StmtKind::Defer(d) if matches!(d.kind, StmtKind::Block(_))));
        assert!(matches!(&s[7].kind, StmtKind::If { cond: Expr { kind: ExprKind::Binary(..), .. }, .. }));
        assert!(matches!(&s[8].kind, StmtKind::While { .. }));
    }

    #[test]
    fn match_statement() {
        let s = body(
            "match x {\n  case 1 => return 0,\n  case Color.RED => { y = 1; },\n  case 'a' => y = 2,\n  case Point { x: 1, y: 2 } => break,\n  case 3 => f(x),\n  _ => return 1,\n}\nmatch y { case 1 => { } _ => continue }",
        );
        match &s[0].kind {
            StmtKind::Match { scrutinee, arms } => {
                assert_eq!(show(scrutinee), "x");
                assert_eq!(arms.len(), 6);
                assert!(matches!(arms[0].body.kind, StmtKind::Return(_)));
                assert!(matches!(arms[1].body.kind, StmtKind::Block(_)));
                assert!(matches!(arms[2].body.kind, StmtKind::Assign { .. }));
                assert_eq!(show(arms[3].pattern.as_ref().unwrap()), "Point{x: 1, y: 2}");
                assert!(matches!(arms[3].body.kind, StmtKind::Break));
                assert!(matches!(arms[4].body.kind, StmtKind::Expr(_)));
                assert!(arms[5].pattern.is_none());
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(&s[1].kind, StmtKind::Match { arms, .. } if arms.len() == 2));
    }

    #[test]
    fn items() {
        let m = parse_ok(
            "cimport <stdio.h>;\ncimport \"local.h\";\nimport \"file.truk\";\nshard \"name\";\n\
             const X: i32 = 5;\nvar g: i32;\nshared var hits: u64;\nshared var epoch: i64 = 1;\n\
             extern fn printf(fmt: *i8, ...args) : i32;\nextern struct FILE;\nextern struct tm { tm_sec: i32, tm_min: i32 }\n\
             extern var errno: i32;\nextern enum Status : i32 { OK = 0, ERR = 1 }\n\
             enum State : i32 { A = 0, B, }\nstruct Point { x: i32, y: i32, }\n\
             fn sum(count: i32, ...nums) : i32 { return 0; }\nfn v() : void { }\nfn main(argc: i32, argv: **i8) : i32 { return 0; }\n",
        );
        let it = &m.items;
        assert!(matches!(&it[0], Item::CImport { header, system: true, .. } if header == "stdio.h"));
        assert!(matches!(&it[1], Item::CImport { header, system: false, .. } if header == "local.h"));
        assert!(matches!(&it[2], Item::Import { path, .. } if path == "file.truk"));
        assert!(matches!(&it[3], Item::Shard { name, .. } if name == "name"));
        assert!(matches!(&it[4], Item::Global(d) if d.kind == VarKind::Const));
        assert!(matches!(&it[5], Item::Global(d) if d.kind == VarKind::Var && d.init.is_none()));
        assert!(matches!(&it[6], Item::Global(d) if d.kind == VarKind::Shared && d.init.is_none()));
        assert!(matches!(&it[7], Item::Global(d) if d.kind == VarKind::Shared && d.init.is_some()));
        assert!(matches!(&it[8], Item::ExternFn(f) if f.variadic.as_ref().unwrap().name == "args" && f.body.is_none() && f.params.len() == 1));
        assert!(matches!(&it[9], Item::ExternStruct(s) if s.fields.is_none()));
        assert!(matches!(&it[10], Item::ExternStruct(s) if s.fields.as_ref().unwrap().len() == 2));
        assert!(matches!(&it[11], Item::ExternVar(_)));
        assert!(matches!(&it[12], Item::ExternEnum(e) if e.variants.len() == 2));
        assert!(matches!(&it[13], Item::Enum(e) if e.variants.len() == 2 && e.variants[1].value.is_none()));
        assert!(matches!(&it[14], Item::Struct(s) if s.fields.as_ref().unwrap().len() == 2));
        assert!(matches!(&it[15], Item::Fn(f) if f.variadic.is_some() && f.ret.is_some()));
        assert!(matches!(&it[16], Item::Fn(f) if f.ret.is_none()));
        assert!(matches!(&it[17], Item::Fn(f) if f.params.len() == 2 && f.name.name == "main"));
    }

    #[test]
    fn spans() {
        let src = "fn main() : i32 {\n  return a + bb;\n}\n";
        let m = parse_ok(src);
        let Item::Fn(f) = &m.items[0] else { panic!() };
        assert_eq!((f.span.lo, f.span.hi), (0, src.len() as u32 - 1));
        assert_eq!(&src[f.name.span.lo as usize..f.name.span.hi as usize], "main");
        let st = &f.body.as_ref().unwrap().stmts[0];
        let StmtKind::Return(v) = &st.kind else { panic!() };
        assert_eq!(&src[v[0].span.lo as usize..v[0].span.hi as usize], "a + bb");
        let (m, _) = parse_module("fn f() {}\n", 7);
        let Item::Fn(f) = &m.items[0] else { panic!() };
        assert_eq!(f.span.file, 7);
    }

    #[test]
    fn comments_and_reserved_words() {
        parse_ok("// a\n/* b\n c */ fn main() : i32 { /* x */ return 0; // y\n}\n");
        parse_ok("");
        parse_ok("   \n// only a comment");
        for bad in ["fn f32() {}", "fn main() { var i32: i32 = 0; }", "struct void { x: i32 }", "fn f() { var true: i32 = 1; }"] {
            assert!(!parse_module(bad, 0).1.is_empty(), "{bad}");
        }
    }

    #[test]
    fn recovery_reports_several_errors() {
        let src = "fn a() {\n  x = ;\n}\nfn b() : i32 { return 0; }\nstruct S { x i32 }\nfn c() {\n  y(;\n}\n";
        let (m, d) = parse_module(src, 0);
        assert_eq!(d.len(), 3, "{}", render(src, &d));
        assert_eq!(m.items.len(), 1); // only `b` is whole
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // On the stack the compiler's stages get; the limit's end-to-end tests are in
        // compiler/tests/nesting.rs.
        crate::driver::build::on_compiler_stack(|| {
            for n in [MAX_DEPTH + 1, 100_000] {
                let src = format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(n), ")".repeat(n));
                assert!(errors(&src).contains("the limit is 1000"), "{n} parens");
                // (The outer braces are the function's body.)
                let src = format!("fn main() : i32 {}{}\n", "{".repeat(n + 1), "}".repeat(n + 1));
                assert!(errors(&src).contains("the limit is 1000"), "{n} blocks");
                let src = format!("fn main() : i32 {{ return {}1; }}\n", "-".repeat(n));
                assert!(errors(&src).contains("the limit is 1000"), "{n} prefix ops");
                let src = format!("var x: {}i32;\n", "*".repeat(n));
                assert!(errors(&src).contains("the limit is 1000"), "{n} pointer types");
                let src = format!("fn main() : i32 {{ return 1{}; }}\n", " + 1".repeat(n));
                assert!(errors(&src).contains("the limit is 1000"), "{n} operators");
            }
            // Deep but reasonable nesting is fine.
            let src = format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(900), ")".repeat(900));
            parse_ok(&src);
            let src = format!("fn main() : i32 {{ return 1{}; }}\n", " + 1".repeat(900));
            parse_ok(&src);
        });
    }

    #[test]
    fn never_panics_on_truncated_or_mangled_input() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/run");
        let mut files = Vec::new();
        collect(&root, &mut files);
        files.sort();
        let mut inputs: Vec<String> = vec![
            "fn".into(), "fn main(".into(), "'".into(), "\"".into(), "/*".into(), "'\\".into(), "\"\\".into(),
            "fn f() { x = 'é'; }".into(), "fn f() { return \"é\\é\"; }".into(), "é".into(), "\u{0}".into(),
            "match".into(), "fn f() { match x { case".into(), "extern".into(), "shared var".into(),
        ];
        for f in files.iter().step_by(40) {
            if let Ok(s) = std::fs::read_to_string(f) {
                inputs.push(s);
            }
        }
        for src in &inputs {
            for cut in (0..=src.len()).filter(|&i| src.is_char_boundary(i)) {
                let _ = parse_module(&src[..cut], 0);
            }
        }
    }

    #[test]
    #[ignore]
    fn parse_speed_10k_lines() {
        let mut src = String::new();
        src.push_str("struct Point { x: i32, y: i32 }\n");
        let mut lines = 1;
        let mut n = 0;
        while lines < 10_000 {
            src.push_str(&format!(
                "fn func{n}(a: i32, b: *Point, m: map[*u8, i32]) : i32 {{\n  var s: i32 = 0;\n  for var i: i32 = 0; i < a; i += 1 {{\n    s = s + (i * 3 + b->x) as i32 - m[\"k\"];\n    if s > 100 && i != 7 {{ break; }}\n  }}\n  match s {{\n    case 1 => return 0,\n    _ => {{ s += 1; }},\n  }}\n  var p: Point = Point{{x: s, y: 0x1F}};\n  printf(\"%d\\n\", p.x);\n  return s;\n}}\n"
            ));
            lines += 15;
            n += 1;
        }
        let t = std::time::Instant::now();
        let (m, d) = parse_module(&src, 0);
        let dt = t.elapsed();
        assert!(d.is_empty(), "{}", render(&src, &d[..1]));
        println!(
            "parsed {lines} lines ({} bytes, {} items) in {:.1} ms: {:.0} lines/s",
            src.len(),
            m.items.len(),
            dt.as_secs_f64() * 1e3,
            lines as f64 / dt.as_secs_f64()
        );
    }

    #[test]
    fn snapshot_missing_semicolon() {
        insta::assert_snapshot!(errors("fn main() : i32 {\n  var x: i32 = 5\n  return x;\n}\n"));
    }

    #[test]
    fn snapshot_reserved_name_and_recovery() {
        insta::assert_snapshot!(errors(
            "fn f32() : i32 { return 0; }\nfn main() : i32 {\n  var x i32 = 5;\n}\nfn g() {\n  foo(1, 2;\n}\n"
        ));
    }

    #[test]
    fn snapshot_char_literals() {
        insta::assert_snapshot!(errors(
            "fn main() : i32 {\n  var c: i8 = '';\n  var d: i8 = '\\q';\n  var e: i8 = 'ab';\n  var f: i8 = 'a;\n  return 0;\n}\n"
        ));
    }

    #[test]
    fn snapshot_unclosed_block_and_bad_match_arm() {
        insta::assert_snapshot!(errors("fn main() : i32 {\n  match x {\n    case 1 => return 0\n    _ => return 1,\n  }\n}\nfn h() {\n  if x == 1 {\n    return;\n}\n"));
    }

    #[test]
    fn snapshot_unterminated_string_and_comment() {
        insta::assert_snapshot!(errors("fn main() : i32 {\n  var s: *u8 = \"abc;\n  return 0;\n}\nfn k() { /* never closed\n"));
    }

    #[test]
    #[ignore]
    fn show_errors() {
        for src in [
            "fn main() : i32 {\n  var x: i32 = 5\n  return x;\n}\n",
            "fn main() : i32 {\n  var add = 3 +;\n  return 0;\n}\n",
            "fn main() : i32 {\n  var x i32 = 5;\n}\nfn g() {\n  return (1 + 2;\n}\nstruct S { x: i32 }\n",
            "fn f32() : i32 { return 0; }\n",
            "fn main() : i32 {\n  if x == 1 {\n    return 0;\n  \n}\n",
            "struct P { x: i32, y }\n",
            "fn main() : i32 {\n  match x {\n    case 1 => return 0\n    _ => return 1,\n  }\n}\n",
            "fn main() : i32 {\n  var s: *u8 = \"abc;\n  return 0;\n}\n",
            "fn main() : i32 {\n  return 99999999999999999999999;\n}\n",
            "fn main() : i32 {\n  var c: i8 = '';\n  var d: i8 = '\\q';\n  var e: i8 = 'ab';\n  var f: i8 = 'a;\n  return 0;\n}\n",
            "garbage here\nfn ok() {}\n",
            "fn main() : i32 { /* unterminated \n return 0; }\n",
            "fn main() : i32 {\n  x = = 3;\n}\n",
            "import foo;\n",
            "fn main() : i32 {\n  foo(1, 2;\n}\n",
            &format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(10000), ")".repeat(10000)),
            &format!("fn main() : i32 {{ return {}1{}; }}\n", "(".repeat(300), ")".repeat(300)),
        ] {
            println!("----\n{}\n{}", &src[..src.len().min(300)], errors(src).lines().next().unwrap_or(""));
        }
    }

    #[test]
    fn conformance_corpus_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
        if !root.is_dir() {
            println!("conformance corpus not found at {}: skipped", root.display());
            return;
        }
        let mut files = Vec::new();
        collect(&root, &mut files);
        files.sort();
        let mut failures = Vec::new();
        let mut ok = 0;
        for f in &files {
            let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let Ok(src) = std::fs::read_to_string(f) else { continue };
            let (_, diags) = parse_module(&src, 0);
            let expect_fail = SYNTAX_REJECTS.contains(&rel.as_str());
            if expect_fail && !diags.is_empty() {
                // The first diagnostic must be on the line the `.expect` file names.
                let expect = std::fs::read_to_string(f.with_extension("expect")).unwrap_or_default();
                let want: Option<usize> = expect
                    .lines()
                    .find_map(|l| l.trim_start().strip_prefix("--> "))
                    .and_then(|l| l.split(':').nth(1))
                    .and_then(|n| n.parse().ok());
                let mut sm = SourceMap::default();
                sm.add(f.clone(), src.clone());
                let got = sm.file(0).line_col(diags[0].span.unwrap().lo).0;
                if want != Some(got) {
                    failures.push(format!("{rel}: first error on line {got}, expected {want:?}"));
                    continue;
                }
            }
            if diags.is_empty() == expect_fail {
                failures.push(format!("{rel}: {}", if expect_fail { "parsed but must be rejected".to_string() } else { render(&src, &diags) }));
            } else {
                ok += 1;
            }
        }
        println!("{ok} of {} corpus files behave as expected", files.len());
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    }
}
