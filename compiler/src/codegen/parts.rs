//! Splitting a program's functions into parts that are emitted and compiled to objects
//! separately (on several threads, `driver/codegen.rs`) and linked together.
//!
//! Part 0 defines everything the program has once: the non-shared globals, the base of the
//! shared area, the entry code and test table (and the driver adds the fingerprint note to
//! it). Every part defines a contiguous range of functions (by id, so mostly whole source
//! files) and declares the rest. In a split build the functions and globals that are
//! internal in a whole one are hidden externals instead, named `SYMBOL.t`: a name no Truk
//! or C identifier can take, so it never meets a runtime or libc symbol.

use std::borrow::Cow;
use std::ops::Range;

use inkwell::module::Linkage;
use inkwell::values::GlobalValue;
use inkwell::GlobalVisibility;

use crate::mir;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub count: usize,
    /// The ids of the functions this part defines.
    pub funcs: Range<usize>,
}

impl Part {
    /// The whole program in one module.
    pub fn whole(prog: &mir::Program) -> Part {
        Part { index: 0, count: 1, funcs: 0..prog.bodies.len() }
    }

    /// `count` parts of about equal size (by MIR statements), in function order.
    pub fn split(prog: &mir::Program, count: usize) -> Vec<Part> {
        let weights: Vec<usize> = prog.bodies.iter().map(|b| b.as_ref().map_or(0, weight)).collect();
        let total: usize = weights.iter().sum();
        let count = count.max(1);
        let mut parts = vec![];
        let (mut start, mut acc) = (0, 0);
        for (i, w) in weights.iter().enumerate() {
            acc += w;
            // Close a part once it holds its share of the whole.
            if parts.len() + 1 < count && acc * count >= total * (parts.len() + 1) {
                parts.push(start..i + 1);
                start = i + 1;
            }
        }
        parts.push(start..weights.len());
        let n = parts.len();
        parts.into_iter().enumerate().map(|(index, funcs)| Part { index, count: n, funcs }).collect()
    }

    pub fn is_split(&self) -> bool {
        self.count > 1
    }

    pub fn defines(&self, func: usize) -> bool {
        self.funcs.contains(&func)
    }

    /// Whether this part holds what the program has once (globals, entry, note).
    pub fn is_first(&self) -> bool {
        self.index == 0
    }

    /// The symbol of a function or global that a whole build keeps internal.
    pub fn symbol<'a>(&self, symbol: &'a str) -> Cow<'a, str> {
        if self.is_split() {
            Cow::Owned(format!("{symbol}.t"))
        } else {
            Cow::Borrowed(symbol)
        }
    }

    /// Give `g`, which a whole build keeps internal, the linkage that lets other parts
    /// reach it (hidden: never exported from the executable).
    pub fn link_internal(&self, g: GlobalValue<'_>) {
        if self.is_split() {
            g.set_linkage(Linkage::External);
            g.set_visibility(GlobalVisibility::Hidden);
        } else {
            g.set_linkage(Linkage::Internal);
        }
    }
}

/// The size of a body, for balancing the parts: its statements and blocks.
pub fn weight(body: &mir::Body) -> usize {
    body.blocks.iter().map(|b| b.stmts.len() + 1).sum()
}
