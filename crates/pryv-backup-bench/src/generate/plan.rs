//! Who gets what: users, how many events each (one very large user, the rest Zipf-like),
//! attachment files and series, decided up front from the seed.

use base64::Engine as _;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::ids::{cuid, rng_for, Purpose};
use super::Options;

/// Bytes per `attachment_files` row, as the core chunks files.
pub const CHUNK_BYTES: usize = 1024 * 1024;

pub struct UserPlan {
    pub index: u64,
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub language: &'static str,
    pub personal_access: String,
    pub app_access: String,
    pub shared_access: String,
    pub events: u64,
    pub audit_rows: u64,
    pub files: Vec<FilePlan>,
    pub series: Vec<SeriesPlan>,
}

pub struct FilePlan {
    pub event_id: String,
    pub file_id: String,
    pub file_name: String,
    pub mime: &'static str,
    pub size: u64,
    /// The bytes are regenerated from this seed when written, never held in memory.
    pub bytes_seed: u64,
    /// `sha256-<base64>`, as attachments' `integrity`.
    pub integrity: String,
}

pub struct SeriesPlan {
    pub event_id: String,
    pub points: u64,
}

pub fn plan(options: &Options) -> Vec<UserPlan> {
    let n = options.users as u64;
    let events = split_skewed(options.events, n, options.big_user_share);
    let mut users: Vec<UserPlan> = (0..n)
        .map(|index| {
            let mut rng = rng_for(options.seed, index, Purpose::Plan);
            let username = if index == 0 {
                "bigcorp-health".to_string()
            } else {
                format!("user{index:06}")
            };
            UserPlan {
                index,
                user_id: cuid(&mut rng),
                email: format!("{username}@example.com"),
                username,
                language: ["en", "fr", "de", "it"][rng.gen_range(0..4)],
                personal_access: cuid(&mut rng),
                app_access: cuid(&mut rng),
                shared_access: cuid(&mut rng),
                events: events[index as usize],
                audit_rows: 0,
                files: Vec::new(),
                series: Vec::new(),
            }
        })
        .collect();
    for (user, audit) in users
        .iter_mut()
        .zip(split_like(options.audit_rows, &events))
    {
        user.audit_rows = audit;
    }
    assign_files(options, &mut users);
    assign_series(options, &mut users);
    users
}

/// `total` over `n` users: `big_share` to the first, the rest by weight 1/rank^0.8.
fn split_skewed(total: u64, n: u64, big_share: f64) -> Vec<u64> {
    if n == 1 {
        return vec![total];
    }
    let big = (total as f64 * big_share.clamp(0.0, 1.0)).round() as u64;
    let weights: Vec<f64> = (1..n).map(|rank| 1.0 / (rank as f64).powf(0.8)).collect();
    let mut counts = vec![big];
    counts.extend(split_by_weights(total - big, &weights));
    counts
}

/// `total` in proportion to `shape` (e.g. audit rows in proportion to events).
fn split_like(total: u64, shape: &[u64]) -> Vec<u64> {
    let weights: Vec<f64> = shape.iter().map(|&x| x as f64 + 1.0).collect();
    split_by_weights(total, &weights)
}

fn split_by_weights(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let mut counts: Vec<u64> = weights
        .iter()
        .map(|w| (total as f64 * w / sum).floor() as u64)
        .collect();
    let given: u64 = counts.iter().sum();
    if let Some(first) = counts.first_mut() {
        *first += total - given;
    }
    counts
}

/// Files of 16 KiB to 3 MiB (so some span several chunks) until the byte budget is spent;
/// half go to the big user, the others round the remaining users.
fn assign_files(options: &Options, users: &mut [UserPlan]) {
    let mut rng = rng_for(options.seed, u64::MAX, Purpose::Plan);
    let mut left = options.attachment_bytes;
    let mut k: u64 = 0;
    while left > 0 {
        let size = rng.gen_range(16 * 1024..=3 * 1024 * 1024).min(left);
        left -= size;
        let owner = if k.is_multiple_of(2) || users.len() == 1 {
            0
        } else {
            1 + (k / 2) as usize % (users.len() - 1)
        };
        let bytes_seed = rng.next_u64();
        let (file_name, mime) = match k % 3 {
            0 => (format!("photo-{k}.jpg"), "image/jpeg"),
            1 => (format!("report-{k}.pdf"), "application/pdf"),
            _ => (format!("scan-{k}.png"), "image/png"),
        };
        users[owner].files.push(FilePlan {
            event_id: cuid(&mut rng),
            file_id: cuid(&mut rng),
            file_name,
            mime,
            size,
            bytes_seed,
            integrity: file_integrity(bytes_seed, size),
        });
        k += 1;
    }
}

/// Calls `each` with the file's chunks in order, as they are stored.
pub fn for_each_chunk(
    bytes_seed: u64,
    size: u64,
    mut each: impl FnMut(&[u8]) -> Result<(), crate::BenchError>,
) -> Result<(), crate::BenchError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(bytes_seed);
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut left = size;
    loop {
        let len = left.min(CHUNK_BYTES as u64) as usize;
        // Random bytes: photos and PDFs barely compress either.
        rng.fill_bytes(&mut chunk[..len]);
        each(&chunk[..len])?;
        left -= len as u64;
        if left == 0 {
            return Ok(());
        }
    }
}

fn file_integrity(bytes_seed: u64, size: u64) -> String {
    let mut hasher = Sha256::new();
    // Hashing into memory cannot fail.
    let _ = for_each_chunk(bytes_seed, size, |chunk| {
        hasher.update(chunk);
        Ok(())
    });
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
    )
}

/// One series event per 20 000 points, spread over the users from the big one.
fn assign_series(options: &Options, users: &mut [UserPlan]) {
    if options.series_points == 0 {
        return;
    }
    let count = options.series_points.div_ceil(20_000);
    let per_series = split_by_weights(options.series_points, &vec![1.0; count as usize]);
    let mut rng = rng_for(options.seed, u64::MAX, Purpose::Series);
    for (k, points) in per_series.into_iter().enumerate() {
        let owner = k % users.len();
        users[owner].series.push(SeriesPlan {
            event_id: cuid(&mut rng),
            points,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_add_up() {
        let counts = split_skewed(1_000_003, 7, 0.5);
        assert_eq!(counts.iter().sum::<u64>(), 1_000_003);
        assert_eq!(counts[0], 500_002);
        assert!(counts[1] > counts[6]);
        assert_eq!(split_skewed(10, 1, 0.5), vec![10]);
        assert_eq!(split_like(100, &[5, 0, 0]).iter().sum::<u64>(), 100);
    }
}
