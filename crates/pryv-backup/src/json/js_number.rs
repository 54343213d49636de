//! Numbers as JavaScript writes them (`Number.prototype.toString`, ECMA-262 Number::toString).
//!
//! The core is Node.js: every number it stores or hashes went through JavaScript's formatting.
//! Engines that read floats from a database must write them back the same way, so archives
//! and integrity hashes match the reference byte for byte.

use serde_json::{Number, Value};

/// The text JavaScript gives `x`. NaN and infinities have no JSON form: callers get `None`.
pub fn js_number_text(x: f64) -> Option<String> {
    let mut out = String::new();
    push_js_number(x, &mut out).then_some(out)
}

/// Appends the text JavaScript gives `x` to `out`; false (nothing written) for NaN and
/// infinities.
pub fn push_js_number(x: f64, out: &mut String) -> bool {
    if !x.is_finite() {
        return false;
    }
    if x == 0.0 {
        // JavaScript prints -0 as "0" too.
        out.push('0');
        return true;
    }
    let mut buf = ryu::Buffer::new();
    let shortest = buf.format_finite(x);
    // ryu writes a plain decimal (no exponent) only for magnitudes that JavaScript writes
    // plainly too (1e-6 up to 1e21), with the same shortest digits; it adds ".0" to
    // integers, JavaScript does not.
    if !shortest.contains('e') {
        out.push_str(shortest.strip_suffix(".0").unwrap_or(shortest));
        return true;
    }
    out.push_str(&general_form(x));
    true
}

/// JavaScript's text for a finite, non-zero `x`, from ECMA-262's rules on the digits and
/// the position of the decimal point.
fn general_form(x: f64) -> String {
    let mut buf = ryu::Buffer::new();
    let shortest = buf.format_finite(x.abs());
    let (digits, exponent) = split_shortest(shortest);
    // n: position of the decimal point relative to the digit string (ECMA-262's "n").
    let k = digits.len() as i32;
    let n = exponent + k;
    let mut out = String::with_capacity(k as usize + 8);
    if x < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        let e = n - 1;
        out.push(if e >= 0 { '+' } else { '-' });
        out.push_str(&e.abs().to_string());
    }
    out
}

/// A JSON number carrying JavaScript's text for `x`; `null` for NaN and infinities, as
/// `JSON.stringify` does.
pub fn number_from_f64(x: f64) -> Value {
    match js_number_text(x) {
        // The text is a valid JSON number by construction.
        Some(text) => text
            .parse::<Number>()
            .map(Value::Number)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// Splits ryu's shortest representation into significant digits (no leading/trailing
/// zeros) and the power of ten of the last digit.
fn split_shortest(s: &str) -> (String, i32) {
    let (mantissa, exp) = match s.find('e') {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let mut exponent = exp - frac_part.len() as i32;
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    while digits.ends_with('0') && digits.len() > 1 {
        digits.pop();
        exponent += 1;
    }
    (digits, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The short way for plain decimals gives what the general rules give.
        #[test]
        fn plain_decimals_follow_the_general_rules(bits in proptest::num::u64::ANY, small in -1e17f64..1e17) {
            for x in [f64::from_bits(bits), small, small.trunc(), small / 1e20] {
                if x.is_finite() && x != 0.0 {
                    proptest::prop_assert_eq!(js_number_text(x), Some(general_form(x)), "{:e}", x);
                }
            }
        }
    }

    #[test]
    fn matches_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.1 + 0.2, "0.30000000000000004"),
            (12345678901234567890.0, "12345678901234567000"),
            (-5e-8, "-5e-8"),
            (1763981037.125, "1763981037.125"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1e308, "1e+308"),
            (-0.0, "0"),
            (123e-20, "1.23e-18"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.5, "0.5"),
            (-1.5, "-1.5"),
            (57.89, "57.89"),
        ];
        for (x, want) in cases {
            assert_eq!(js_number_text(*x).as_deref(), Some(*want), "for {x:e}");
        }
        assert_eq!(js_number_text(f64::NAN), None);
        assert_eq!(number_from_f64(f64::INFINITY), Value::Null);
        assert_eq!(number_from_f64(2.5).to_string(), "2.5");
    }
}
