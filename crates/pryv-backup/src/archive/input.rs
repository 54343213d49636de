//! Opening one file of a backup for reading: the sealer first (outermost layer), then
//! gunzip, guarded against gzip bombs. Errors carry the file's path.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::{ArchiveError, Backend, FileSealer};

/// Inflated output may exceed compressed input by at most this factor (plus
/// [`INFLATE_SLACK`]); deflate cannot legitimately reach much more than ~1030x, and JSON
/// never comes close.
pub const MAX_INFLATE_RATIO: u64 = 1000;
const INFLATE_SLACK: u64 = 1024 * 1024;

/// Opens `path`: `Ok(None)` when it does not exist.
pub fn open(
    backend: &Backend,
    path: &Path,
    gzip: bool,
    sealer: Option<&Arc<dyn FileSealer>>,
) -> Result<Option<Box<dyn Read + Send>>, ArchiveError> {
    let Some(file) = backend.open(path)? else {
        return Ok(None);
    };
    decoded(file, path, gzip, sealer).map(Some)
}

/// A file's stored bytes (`stored`, read from `path`) opened as [`open`] opens them.
pub fn decoded(
    stored: Box<dyn Read + Send>,
    path: &Path,
    gzip: bool,
    sealer: Option<&Arc<dyn FileSealer>>,
) -> Result<Box<dyn Read + Send>, ArchiveError> {
    let opened: Box<dyn Read + Send> = match sealer {
        Some(s) => s.open(stored).map_err(|e| ArchiveError::reading(path, e))?,
        None => stored,
    };
    Ok(if gzip { gunzip(opened, path) } else { opened })
}

/// Inflates a gzip stream (several members allowed, as Node's gunzip does), refusing
/// gzip bombs.
pub fn gunzip(input: Box<dyn Read + Send>, path: &Path) -> Box<dyn Read + Send> {
    gunzip_capped(input, path, MAX_INFLATE_RATIO)
}

fn gunzip_capped(input: Box<dyn Read + Send>, path: &Path, max_ratio: u64) -> Box<dyn Read + Send> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: input,
        count: Arc::clone(&consumed),
    };
    Box::new(BombGuard {
        inner: MultiGzDecoder::new(io::BufReader::new(counted)),
        consumed,
        produced: 0,
        max_ratio,
        path: path.to_path_buf(),
    })
}

struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Stops inflating once the output is implausibly larger than the input read so far.
struct BombGuard<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
    produced: u64,
    max_ratio: u64,
    path: PathBuf,
}

impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let consumed = self.consumed.load(Ordering::Relaxed);
        if self.produced
            > consumed
                .saturating_mul(self.max_ratio)
                .saturating_add(INFLATE_SLACK)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: gzip inflates more than {}x ({consumed} bytes gave {} so far); refusing a likely gzip bomb",
                    self.path.display(),
                    self.max_ratio,
                    self.produced
                ),
            ));
        }
        Ok(n)
    }
}

/// A file's stored bytes, read whole when it holds at most `size` of them (one more is read
/// to tell a longer file, which then holds more than `size`); `None` when it does not exist.
pub fn stored_bytes(
    backend: &Backend,
    path: &Path,
    size: u64,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    let Some(file) = backend.open(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ArchiveError::io(path, e))?;
    Ok(Some(bytes))
}

/// Size and SHA-256 (hex) of a file's bytes; `None` when it does not exist.
pub fn digest(backend: &Backend, path: &Path) -> Result<Option<(u64, String)>, ArchiveError> {
    let Some(mut file) = backend.open(path)? else {
        return Ok(None);
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| ArchiveError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflating_far_beyond_the_ratio_is_refused() {
        // 8 MiB of zeros shrink ~1000x: over a 5x cap once past the slack.
        let bomb = gz(&vec![0u8; 8 * 1024 * 1024]);
        let mut r = gunzip_capped(Box::new(io::Cursor::new(bomb)), Path::new("bomb.gz"), 5);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("bomb.gz") && err.to_string().contains("gzip bomb"),
            "{err}"
        );
    }

    #[test]
    fn ordinary_data_and_concatenated_members_inflate() {
        let mut two = gz(b"{\"a\":1}\n");
        two.extend(gz(b"{\"b\":2}\n"));
        let mut out = String::new();
        gunzip(Box::new(io::Cursor::new(two)), Path::new("x.gz"))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "{\"a\":1}\n{\"b\":2}\n");
    }
}
