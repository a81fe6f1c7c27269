//! The VS Code extension (editors/vscode): its manifest, language configuration and
//! TextMate grammar are valid JSON that agree with each other, every regex of the grammar
//! compiles (fancy-regex reads the Oniguruma subset it uses: lookaheads, non-capturing
//! groups), and the compiler's keywords, primitive types, literals and comments get scopes.

use serde_json::Value;

mod common;
use common::{compiler_keywords, project_root};

fn json(path: &str) -> Value {
    let p = project_root().join("editors/vscode").join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every (scope name, `match` regex) of the grammar, and every regex (match, begin, end).
fn patterns(v: &Value, scope: Option<&str>, out: &mut Vec<(String, String)>, all: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let scope = m.get("name").and_then(Value::as_str).or(scope);
            for key in ["match", "begin", "end"] {
                if let Some(re) = m.get(key).and_then(Value::as_str) {
                    all.push(re.to_string());
                    if key == "match" {
                        out.push((scope.unwrap_or("").to_string(), re.to_string()));
                    }
                }
            }
            for (k, child) in m {
                if k != "name" {
                    patterns(child, scope, out, all);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| patterns(c, scope, out, all)),
        _ => {}
    }
}

/// The scopes of the grammar's patterns that match all of `word` in `line`.
fn scopes_of(word: &str, line: &str) -> Vec<String> {
    let grammar = json("syntaxes/truk.tmLanguage.json");
    let (mut named, mut all) = (vec![], vec![]);
    patterns(&grammar, None, &mut named, &mut all);
    let at = line.find(word).unwrap();
    named
        .into_iter()
        .filter(|(_, re)| {
            let re = fancy_regex::Regex::new(re).unwrap();
            re.find_from_pos(line, at).ok().flatten().is_some_and(|m| m.start() == at && m.end() == at + word.len())
        })
        .map(|(scope, _)| scope)
        .collect()
}

#[test]
fn the_manifest_the_language_configuration_and_the_grammar_agree() {
    let manifest = json("package.json");
    let grammar = json("syntaxes/truk.tmLanguage.json");
    let contributes = &manifest["contributes"];
    assert_eq!(contributes["languages"][0]["id"], "truk");
    assert_eq!(contributes["languages"][0]["extensions"][0], ".truk");
    assert_eq!(contributes["grammars"][0]["scopeName"], grammar["scopeName"]);
    for file in [&contributes["grammars"][0]["path"], &contributes["languages"][0]["configuration"], &manifest["main"]] {
        let path = project_root().join("editors/vscode").join(file.as_str().unwrap());
        assert!(path.is_file(), "{} is missing", path.display());
    }
    assert!(manifest["dependencies"]["vscode-languageclient"].is_string());
    let config = json("language-configuration.json");
    assert_eq!(config["comments"]["lineComment"], "//");
    // The extension starts the language server as `<truk.path> lsp`.
    let ext = std::fs::read_to_string(project_root().join("editors/vscode/extension.js")).unwrap();
    assert!(ext.contains("args: ['lsp']") && ext.contains("'truk'"), "{ext}");
}

#[test]
fn every_regex_of_the_grammar_compiles() {
    let grammar = json("syntaxes/truk.tmLanguage.json");
    let (mut named, mut all) = (vec![], vec![]);
    patterns(&grammar, None, &mut named, &mut all);
    assert!(all.len() >= 20, "{all:?}");
    for re in all {
        fancy_regex::Regex::new(&re).unwrap_or_else(|e| panic!("{re:?}: {e}"));
    }
}

#[test]
fn keywords_types_literals_and_comments_get_their_scopes() {
    for kw in compiler_keywords() {
        // `map` is a keyword only before `[`, like `chan` and `table`.
        let line = format!("x {kw}[i32, i32] y");
        let scopes = scopes_of(&kw, &line);
        assert!(
            scopes.iter().any(|s| s.starts_with("keyword.") || s.starts_with("storage.")),
            "keyword {kw:?} gets no keyword scope: {scopes:?}"
        );
    }
    for (word, line, want) in [
        ("i32", "var x: i32 = 1;", "storage.type.primitive"),
        ("f64", "var x: f64 = 1;", "storage.type.primitive"),
        ("nil", "p = nil;", "constant.language"),
        ("true", "b = true;", "constant.language"),
        ("0x1F", "x = 0x1F;", "constant.numeric"),
        ("2.5e3", "x = 2.5e3;", "constant.numeric.float"),
        ("// note", "x = 1; // note", "comment.line"),
        ("'a'", "c = 'a';", "string.quoted.single"),
        ("make", "s = make(@u8, 3);", "support.function.builtin"),
        ("chan_send", "chan_send(&c, 1);", "support.function.builtin"),
        ("Point", "var p: Point;", "entity.name.type"),
    ] {
        let scopes = scopes_of(word, line);
        assert!(scopes.iter().any(|s| s.starts_with(want)), "{word:?} in {line:?}: {scopes:?}");
    }
    // Names that merely start like a keyword stay names.
    assert!(scopes_of("format", "format(1);").iter().all(|s| !s.starts_with("keyword.control")));
    assert!(scopes_of("iffy", "iffy = 1;").is_empty());
}
