//! Parser: pest grammar -> AST (placeholder until the grammar lands).
