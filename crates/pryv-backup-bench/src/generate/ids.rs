//! Deterministic randomness: one generator per (seed, user, purpose), so every table's rows
//! are the same whatever order the tables are loaded in.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a random stream is used for; part of its seed.
#[derive(Clone, Copy)]
pub enum Purpose {
    Plan = 1,
    Streams,
    Accesses,
    Account,
    Events,
    Audit,
    Series,
    Webhooks,
}

/// The platform's "now": every generated time is before it (seconds, 2025-11-24).
pub const NOW_MS: i64 = 1_763_980_000_000;

pub fn rng_for(seed: u64, user: u64, purpose: Purpose) -> StdRng {
    let mixed = splitmix(splitmix(seed ^ 0x5052_5956) ^ user.wrapping_mul(0x9E37_79B9))
        ^ (purpose as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    StdRng::seed_from_u64(splitmix(mixed))
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A cuid-like id as the core makes them: `c` and 24 base-36 characters.
pub fn cuid(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(25);
    id.push('c');
    for _ in 0..24 {
        id.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    id
}

/// Milliseconds since the epoch as the core's float seconds (`1763981037.125`).
pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A float as a JSON number written the way JavaScript writes it (`1763980000`, not `…0.0`).
pub fn js(x: f64) -> serde_json::Value {
    pryv_backup::json::number_from_f64(x)
}
