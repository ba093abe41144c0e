//! Stage 1: text to syntax tree. The grammar lives in `grammar/heist.pest`.

pub mod ast;
mod parser;

pub use parser::{is_name, parse, parse_value, MAX_NESTING};
