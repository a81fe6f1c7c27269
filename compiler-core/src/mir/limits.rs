//! Size limits, checked once layouts are final (sizes are only known then):
//!
//! - A type may not be larger than the target's user address space (2^47 bytes on x86_64,
//!   2^48 on aarch64): no value of it could ever exist, and sizes past 2^64 would wrap.
//!   Reported at the array or tuple type as written, or at the struct.
//! - The non-shared globals together must link with the small code model, which keeps code
//!   and static data within 2 GiB (x86_64) or 4 GiB (aarch64) of each other: they may take
//!   that much less 64 MiB, left for code and the runtime. Reported at the global that
//!   crosses the limit. Shared variables live in the fleet's region instead: their area only
//!   has the type limit.
//!
//! Large locals are not limited here: codegen puts them on the heap (`HEAP_LOCAL_MIN`).

use crate::diag::{Diagnostic, Span};
use crate::hir::ty::ty_name;
use crate::hir::{Program as Hir, Ty};
use crate::syntax::ast::VarKind;

use super::{Layouts, Program};

pub struct Limits {
    arch: &'static str,
    /// Largest size of a type, in bytes.
    pub type_max: u64,
    /// Largest total size of the non-shared globals, in bytes.
    pub globals_max: u64,
}

pub fn limits(triple: &str) -> Limits {
    if triple.starts_with("aarch64") || triple.starts_with("arm64") {
        Limits { arch: "aarch64", type_max: 1 << 48, globals_max: (4 << 30) - (64 << 20) }
    } else {
        Limits { arch: "x86_64", type_max: 1 << 47, globals_max: (2 << 30) - (64 << 20) }
    }
}

/// The diagnostics for sizes past the target's limits.
pub fn check(prog: &Program, triple: &str) -> Vec<Diagnostic> {
    let lim = limits(triple);
    let c = Check { hir: &prog.hir, layouts: &prog.layouts, lim: &lim };
    let mut out = c.types();
    if out.is_empty() {
        out.extend(c.globals());
    }
    out
}

struct Check<'a> {
    hir: &'a Hir,
    layouts: &'a Layouts,
    lim: &'a Limits,
}

impl Check<'_> {
    /// The exact size of `t`, `None` when it is past 2^64 and not an array of a known size.
    fn exact(&self, t: &Ty) -> Option<u128> {
        match t {
            Ty::Array(n, el) => self.exact(el)?.checked_mul(*n as u128),
            // Layouts saturate at u64::MAX.
            _ => Some(self.layouts.size_of(t)).filter(|&s| s != u64::MAX).map(u128::from),
        }
    }

    fn too_large(&self, t: &Ty) -> bool {
        self.exact(t).is_none_or(|s| s > self.lim.type_max as u128)
    }

    fn show(&self, t: &Ty) -> String {
        ty_name(self.hir, t)
    }

    fn error(&self, span: Span, what: String, t: &Ty) -> Diagnostic {
        let size = match self.exact(t) {
            Some(s) => bytes(s),
            None => "over 2^64 bytes".into(),
        };
        let max = bytes(self.lim.type_max as u128);
        Diagnostic::error(span, format!("{what} is too large: {size}, the limit for {} is {max}", self.lim.arch))
    }

    /// Each too-large type once, at the outermost place it is written.
    fn types(&self) -> Vec<Diagnostic> {
        let big: Vec<&(Ty, Span)> = self.hir.written_types.iter().filter(|(t, _)| self.too_large(t)).collect();
        let inside = |s: Span| big.iter().any(|(_, o)| o.file == s.file && o.lo <= s.lo && s.hi <= o.hi && (o.lo, o.hi) != (s.lo, s.hi));
        let mut seen: Vec<Span> = vec![];
        let mut out = vec![];
        for (t, span) in &big {
            if inside(*span) || seen.contains(span) {
                continue;
            }
            seen.push(*span);
            out.push(self.error(*span, format!("type `{}`", self.show(t)), t));
        }
        // A struct too large although none of its fields is.
        for (id, s) in self.hir.structs.iter().enumerate() {
            let t = Ty::Struct(id as u32);
            let fields_fit = s.fields.iter().flatten().all(|(_, f)| !self.too_large(f));
            if fields_fit && self.too_large(&t) {
                out.push(self.error(s.span, format!("struct `{}`", s.name), &t));
            }
        }
        out
    }

    fn globals(&self) -> Vec<Diagnostic> {
        let mut end: u64 = 0;
        let mut out = vec![];
        let mut shared: u64 = 0;
        for g in &self.hir.globals {
            let sa = self.layouts.size_align(&g.ty);
            if g.kind == VarKind::Shared {
                shared = shared.div_ceil(sa.align).saturating_mul(sa.align).saturating_add(sa.size);
                if shared > self.lim.type_max {
                    let d = Diagnostic::error(g.span, format!("the shared variables are too large: {} up to `{}`, the limit for {} is {}", bytes(shared as u128), g.name, self.lim.arch, bytes(self.lim.type_max as u128)));
                    out.push(d);
                    break;
                }
                continue;
            }
            if g.is_extern {
                continue;
            }
            end = end.div_ceil(sa.align).saturating_mul(sa.align).saturating_add(sa.size);
            if end > self.lim.globals_max {
                let d = Diagnostic::error(
                    g.span,
                    format!(
                        "global `{}` is too large to link: the globals take {} MiB up to it, the limit for {} is {} MiB",
                        g.name,
                        end.div_ceil(1 << 20),
                        self.lim.arch,
                        self.lim.globals_max >> 20
                    ),
                )
                .with_note("allocate it with `make` instead, or share it with `shared var`");
                out.push(d);
                break;
            }
        }
        out
    }
}

/// `2^64 bytes` for a power of two of at least 1 GiB, else `N bytes`.
fn bytes(n: u128) -> String {
    if n.is_power_of_two() && n >= 1 << 30 {
        format!("2^{} bytes", n.trailing_zeros())
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_shown_as_powers_of_two_when_they_are_some() {
        assert_eq!(super::bytes(1 << 64), "2^64 bytes");
        assert_eq!(super::bytes(3 << 40), "3298534883328 bytes");
        assert_eq!(super::bytes(4096), "4096 bytes");
    }
}
