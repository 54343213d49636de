//! JSON helpers shared by the engines and the integrity code.

mod js_number;

pub use js_number::{js_number_text, number_from_f64, push_js_number};
