//! Source text to AST: the pest grammar (`truk.pest`), the AST, and the parser that builds it.
pub mod ast;
pub mod delims;
pub mod depth;
pub mod parser;
