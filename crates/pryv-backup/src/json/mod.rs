//! JSON helpers shared by the engines and the integrity code.

mod borrowed;
mod js_number;

pub(crate) use borrowed::BorrowedStr;
pub use js_number::{js_number_text, number_from_f64, push_js_number};
