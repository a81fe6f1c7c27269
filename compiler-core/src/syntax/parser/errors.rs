//! Syntax errors: pest errors turned into diagnostics, and the recovery point after one.

use std::sync::Mutex;

use pest::error::{ErrorVariant, InputLocation};

use super::*;

/// Turns detailed error collection on while at least one re-parse needs it (the flag is
/// process-wide in pest).
pub(super) static DETAIL_USERS: Mutex<usize> = Mutex::new(0);

pub(super) fn with_error_detail<T>(f: impl FnOnce() -> T) -> T {
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

/// Whether the parse that failed with `first` got to the end of `rest` (a token tried
/// there): on a text cut short, the failure is the cut's.
pub(super) fn reaches_end(rest: &str, first: &pest::error::Error<Rule>) -> bool {
    if matches!(first.location, InputLocation::Pos(p) if p == rest.len()) {
        return true;
    }
    let detailed = with_error_detail(|| TrukGrammar::parse(Rule::next_item, rest).err());
    detailed.and_then(|e| e.parse_attempts()).is_some_and(|a| a.max_position >= rest.len())
}

/// Build the diagnostic for a pest error found while parsing `src[base..end]`.
pub(super) fn syntax_error(src: &str, base: usize, end: usize, file: u32, first: &pest::error::Error<Rule>) -> Diagnostic {
    let rest = &src[base..end];
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
pub(super) fn normalize(raw: Vec<String>) -> Vec<String> {
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
pub(super) fn unterminated_string(src: &str, from: usize, at: usize) -> Option<usize> {
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

pub(super) fn order_key(s: &str) -> usize {
    const ORDER: [&str; 9] = ["`;`", "`,`", "`)`", "`]`", "`}`", "`{`", "`:`", "`=`", "`=>`"];
    ORDER.iter().position(|o| *o == s).unwrap_or(ORDER.len())
}

pub(super) fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Literal tokens of the grammar as a human reads them. Operator spellings collapse to
/// "an operator" (the list would be long and useless).
pub(super) fn describe_token(tok: &str) -> Option<String> {
    const OPERATORS: [&str; 36] = [
        "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "|", "^", "&", "+", "-", "*", "/",
        "%", "<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "->", ".", "as", "!",
        "~", "(", "[", "=",
    ];
    match tok {
        // These open a call/index or an assignment after an expression; they are covered by
        // "an operator" except when they are all that is expected (handled by the caller).
        t if OPERATORS.contains(&t) && !matches!(t, "=" | "(" | "[" | "*" | "&" | "-" | "!" | "~" | "/") => {
            Some("an operator".into())
        }
        // `/` also starts a comment (WHITESPACE): every skip tries it. A missing operator
        // still shows through the others.
        "(" | "[" | "*" | "&" | "-" | "!" | "~" | "/" => None,
        "=" => Some("`=`".into()),
        "\"" | "'" | "@" | "" | " " | "\t" | "\n" | "\r" | "//" | "/*" => None,
        "0x" | "0X" | "0b" | "0B" | "0o" | "0O" | "e" | "E" | "_" => None,
        t if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => None, // keyword spellings come via rules
        t => Some(format!("`{t}`")),
    }
}

pub(super) fn describe_rule(r: Rule) -> Option<String> {
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
pub(super) fn describe_found(src: &str, at: usize) -> String {
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

pub(super) const PRIMITIVES: [&str; 12] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool", "void"];

pub(super) fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "fn" | "struct" | "enum" | "var" | "const" | "let" | "extern" | "import" | "cimport" | "shard"
            | "shared" | "if" | "else" | "while" | "for" | "return" | "break" | "continue" | "defer"
            | "match" | "case" | "as" | "true" | "false" | "nil" | "map" | "i8" | "i16" | "i32"
            | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64" | "bool" | "void"
    )
}

/// End of the token starting at `at` (a word, a number, or a run of punctuation up to 3).
pub(super) fn token_end(src: &str, at: usize) -> usize {
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
pub(super) fn recovery_point(src: &str, at: usize) -> Option<usize> {
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
