//! One file being written: bytes go through gzip (optional), then the sealer (optional),
//! then into a temporary file in the destination folder (or an S3 upload) that counts and
//! hashes what is stored. Only [`OutputFile::commit`] fsyncs it and renames it into place
//! (or completes the upload), so a crash never leaves a complete-looking but partial file
//! under its final name.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use tempfile::TempPath;

use super::manifest::FileEntry;
use super::{ArchiveError, Backend, FileSealer, SealedWrite};
use crate::s3::Upload;

/// Size and SHA-256 of the bytes written to disk.
#[derive(Default)]
struct Tally {
    size: u64,
    hasher: Sha256,
}

/// Where the bytes end up: a temporary file, or an S3 upload (taken out at commit).
#[derive(Clone)]
enum Place {
    File(Arc<File>),
    S3(Arc<Mutex<Option<Upload>>>),
}

/// The bottom of the stack: writes straight to the place, tallying every byte. The place and
/// tally are shared so they survive the sealer consuming (and dropping) its inner writer.
struct TallyFile {
    place: Place,
    tally: Arc<Mutex<Tally>>,
}

impl Write for TallyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &self.place {
            Place::File(file) => (&**file).write(buf)?,
            Place::S3(upload) => upload
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
                .ok_or_else(|| io::Error::other("the upload is already finished"))?
                .write(buf)?,
        };
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        tally.size += n as u64;
        tally.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.place {
            Place::File(file) => (&**file).flush(),
            Place::S3(_) => Ok(()),
        }
    }
}

enum Sealing {
    Clear(TallyFile),
    Sealed(Box<dyn SealedWrite>),
}

impl Write for Sealing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealing::Clear(w) => w.write(buf),
            Sealing::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealing::Clear(w) => w.flush(),
            Sealing::Sealed(w) => w.flush(),
        }
    }
}

impl Sealing {
    fn finish(self) -> io::Result<()> {
        match self {
            Sealing::Clear(mut w) => w.flush(),
            Sealing::Sealed(w) => w.finish(),
        }
    }
}

enum Codec {
    // Boxed: zlib-rs keeps its whole deflate state inline.
    Gzip(Box<GzEncoder<Sealing>>),
    Raw(Sealing),
}

impl Write for Codec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Codec::Gzip(w) => w.write(buf),
            Codec::Raw(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Codec::Gzip(w) => w.flush(),
            Codec::Raw(w) => w.flush(),
        }
    }
}

/// A file being written; see the module doc.
pub struct OutputFile {
    out: BufWriter<Codec>,
    place: Place,
    tally: Arc<Mutex<Tally>>,
    /// The temporary file to rename into place (local files only).
    temp: Option<TempPath>,
    path: PathBuf,
}

impl OutputFile {
    /// Starts writing `path` (locally, its folder must exist).
    pub fn create(
        backend: &Backend,
        path: &Path,
        gzip: bool,
        sealer: Option<&Arc<dyn FileSealer>>,
    ) -> Result<OutputFile, ArchiveError> {
        let (place, temp) = match backend.upload(path)? {
            Some(upload) => (Place::S3(Arc::new(Mutex::new(Some(upload)))), None),
            None => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
                let temp = tempfile::Builder::new()
                    .prefix(&format!(".{name}."))
                    .suffix(".tmp")
                    .tempfile_in(parent(path))
                    .map_err(|e| ArchiveError::io(path, e))?;
                let (file, temp) = temp.into_parts();
                (Place::File(Arc::new(file)), Some(temp))
            }
        };
        let tally = Arc::new(Mutex::new(Tally::default()));
        let bottom = TallyFile {
            place: place.clone(),
            tally: Arc::clone(&tally),
        };
        let sealing = match sealer {
            Some(sealer) => Sealing::Sealed(
                sealer
                    .seal(Box::new(bottom))
                    .map_err(|e| ArchiveError::io(path, e))?,
            ),
            None => Sealing::Clear(bottom),
        };
        let codec = if gzip {
            // Level 6 is Node's zlib default.
            Codec::Gzip(Box::new(GzEncoder::new(sealing, Compression::new(6))))
        } else {
            Codec::Raw(sealing)
        };
        Ok(OutputFile {
            out: BufWriter::with_capacity(64 * 1024, codec),
            place,
            tally,
            temp,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.out
            .write_all(bytes)
            .map_err(|e| ArchiveError::io(&self.path, e))
    }

    /// Copies a stream in, through a fixed-size buffer.
    pub fn copy_from(&mut self, data: &mut dyn io::Read) -> Result<u64, ArchiveError> {
        io::copy(data, &mut self.out).map_err(|e| ArchiveError::io(&self.path, e))
    }

    /// Ends every layer, fsyncs, renames into place and fsyncs the folder (or completes the
    /// upload). Returns the stored size and SHA-256 under `relative` (the name recorded in
    /// manifests).
    pub fn commit(self, relative: String) -> Result<FileEntry, ArchiveError> {
        let path = self.path;
        let err = |e: io::Error| ArchiveError::io(&path, e);
        let codec = self.out.into_inner().map_err(|e| err(e.into_error()))?;
        let sealing = match codec {
            Codec::Gzip(w) => w.finish().map_err(err)?,
            Codec::Raw(w) => w,
        };
        sealing.finish().map_err(err)?;
        match (self.place, self.temp) {
            (Place::File(file), Some(temp)) => {
                file.sync_all().map_err(err)?;
                drop(file);
                temp.persist(&path).map_err(|e| err(e.error))?;
                sync_dir(parent(&path))?;
            }
            (Place::S3(upload), _) => {
                let upload = upload.lock().unwrap_or_else(PoisonError::into_inner).take();
                upload
                    .ok_or_else(|| err(io::Error::other("the upload is already finished")))?
                    .finish()?;
            }
            (Place::File(_), None) => {
                return Err(err(io::Error::other(
                    "no temporary file to rename into place",
                )))
            }
        }
        let tally = std::mem::take(&mut *self.tally.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(FileEntry {
            path: relative,
            size: tally.size,
            sha256: Some(hex::encode(tally.hasher.finalize())),
        })
    }
}

/// Writes a whole small file (manifests, envelope) atomically.
pub fn write_file(
    backend: &Backend,
    path: &Path,
    bytes: &[u8],
    sealer: Option<&Arc<dyn FileSealer>>,
    relative: String,
) -> Result<FileEntry, ArchiveError> {
    let mut out = OutputFile::create(backend, path, false, sealer)?;
    out.write_all(bytes)?;
    out.commit(relative)
}

/// Creates a folder (and its parents) and makes its entry durable in its parent. Folders of
/// an object store need no creating.
pub fn ensure_dir(backend: &Backend, dir: &Path) -> Result<(), ArchiveError> {
    if !backend.is_local() || dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))?;
    sync_dir(parent(dir))
}

fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ArchiveError::io(dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
