//! "Did you mean `compute_total`?": the known name closest to a misspelt one, by edit
//! distance, for unknown names, functions, types, fields and enum variants.

use super::*;

/// Types every program can name, beside its own structs and enums.
const BUILTIN_TYPES: [&str; 13] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool", "void", "Mutex"];

/// Edit distance (insert, delete, replace, swap two neighbours: `cuont` is one from
/// `count`), case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `name`, if one is close enough to be a likely typo: at most a
/// third of the name's length away (at least one edit).
pub(super) fn closest<'x>(name: &str, candidates: impl IntoIterator<Item = &'x str>) -> Option<&'x str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        // A length further off than the limit is too far already: skip the distance.
        .filter(|c| *c != name && c.chars().count().abs_diff(name.chars().count()) <= limit)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

impl<'a> Checker<'a> {
    /// An error with `help: did you mean ...?` when one of `candidates` is close to `name`.
    pub(super) fn err_suggest<'x>(&mut self, span: Span, msg: String, name: &str, candidates: impl IntoIterator<Item = &'x str>) {
        let mut d = Diagnostic::error(span, msg);
        if let Some(c) = closest(name, candidates) {
            d = d.with_note(format!("help: did you mean `{c}`?"));
        }
        self.diags.push(d);
    }

    /// The values this code can name: locals in scope, then the visible module-level items.
    pub(super) fn value_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fcx.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        out.extend(self.visible_items().filter(|(_, i)| matches!(i, Item::Func(_) | Item::Global(_))).map(|(n, _)| n));
        out
    }

    /// The type names this code can write.
    pub(super) fn type_names(&self) -> Vec<String> {
        let mut out: Vec<String> = BUILTIN_TYPES.iter().map(|s| s.to_string()).collect();
        out.extend(self.visible_items().filter(|(_, i)| matches!(i, Item::Struct(_) | Item::Enum(_))).map(|(n, _)| n));
        out
    }

    fn visible_items(&self) -> impl Iterator<Item = (String, Item)> + '_ {
        let d = self.domain_of.get(&self.cur_file).copied().unwrap_or(self.cur_file);
        let private = self.private.iter().filter(move |((dom, _), _)| *dom == d).map(|((_, n), i)| (n.clone(), *i));
        self.names.iter().map(|(n, i)| (n.clone(), *i)).chain(private)
    }
}
