//! One file being written: bytes go through gzip (optional), then the sealer (optional),
//! then into a temporary file in the destination folder (or an S3 upload) that counts and
//! hashes what is stored. Only [`OutputFile::commit`] fsyncs it and renames it into place
//! (or completes the upload), so a crash never leaves a complete-looking but partial file
//! under its final name.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
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
    Gzip(Gzip),
    Raw(Sealing),
    /// Gzip (and what lies below it: sealing, hashing, writing) on a thread of its own.
    OnThread(DeflateThread),
}

impl Write for Codec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Codec::Gzip(w) => w.write(buf),
            Codec::Raw(w) => w.write(buf),
            Codec::OnThread(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Codec::Gzip(w) => w.flush(),
            Codec::Raw(w) => w.flush(),
            Codec::OnThread(_) => Ok(()),
        }
    }
}

impl Codec {
    /// Ends the compression; what is left below it still needs finishing.
    fn finish(self) -> io::Result<Sealing> {
        match self {
            Codec::Gzip(w) => w.finish(),
            Codec::Raw(w) => Ok(w),
            Codec::OnThread(w) => w.finish(),
        }
    }
}

/// A gzip stream (the header flate2's `GzEncoder` writes at level 6) around a deflate state
/// taken from [`DEFLATE_STATES`] and given back reset: a backup of many small users writes
/// hundreds of thousands of small files, and a new state for each (about 300 KiB, above
/// the CLI's mmap threshold) cost a map, its page faults and an unmap every file.
struct Gzip {
    inner: Sealing,
    deflate: Option<Compress>,
    crc: Crc,
    out: Vec<u8>,
}

/// Reset deflate states waiting for their next file; at most [`KEPT_STATES`].
static DEFLATE_STATES: Mutex<Vec<Compress>> = Mutex::new(Vec::new());
const KEPT_STATES: usize = 8;

/// Level 6 is Node's zlib default; no mtime, no name, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

impl Gzip {
    fn new(inner: Sealing) -> Gzip {
        let pooled = DEFLATE_STATES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut out = Vec::with_capacity(OUTPUT_BUFFER);
        out.extend_from_slice(&GZIP_HEADER);
        Gzip {
            inner,
            deflate: Some(pooled.unwrap_or_else(|| Compress::new(Compression::new(6), false))),
            crc: Crc::new(),
            out,
        }
    }

    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        let deflate = self
            .deflate
            .as_mut()
            .ok_or_else(|| io::Error::other("the compression already ended"))?;
        loop {
            if self.out.len() == self.out.capacity() {
                self.inner.write_all(&self.out)?;
                self.out.clear();
            }
            let before = deflate.total_in();
            let status = deflate
                .compress_vec(input, &mut self.out, flush)
                .map_err(io::Error::other)?;
            input = &input[(deflate.total_in() - before) as usize..];
            let room_left = self.out.len() < self.out.capacity();
            match (flush, status) {
                (_, Status::StreamEnd) => return Ok(()),
                (FlushCompress::None, _) if input.is_empty() && room_left => return Ok(()),
                _ => {}
            }
        }
    }

    fn finish(mut self) -> io::Result<Sealing> {
        self.deflate(&[], FlushCompress::Finish)?;
        self.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        self.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.inner.write_all(&self.out)?;
        if let Some(mut deflate) = self.deflate.take() {
            deflate.reset();
            let mut kept = DEFLATE_STATES
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if kept.len() < KEPT_STATES {
                kept.push(deflate);
            }
        }
        Ok(self.inner)
    }
}

impl Write for Gzip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deflate(buf, FlushCompress::None)?;
        self.crc.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Uncompressed bytes a gzip file takes in on the writer's thread before its compression
/// moves to a thread of its own: a big file's rows are then read from the database on one
/// core while they are deflated on another; a small file never pays for a thread.
const DEFLATE_THREAD_AFTER: u64 = 1 << 20;

/// Bytes gathered before they go down the layers (or to the deflate thread).
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Buffers queued for the deflate thread, of [`OUTPUT_BUFFER`] bytes each.
const DEFLATE_QUEUE: usize = 4;

/// The sending end of a compression moved to its own thread.
struct DeflateThread {
    queue: Option<mpsc::SyncSender<Vec<u8>>>,
    worker: Option<JoinHandle<io::Result<Sealing>>>,
}

impl DeflateThread {
    fn start(codec: Codec) -> io::Result<DeflateThread> {
        let (queue, buffers) = mpsc::sync_channel::<Vec<u8>>(DEFLATE_QUEUE);
        let worker = std::thread::Builder::new()
            .name("deflate".into())
            .spawn(move || {
                let mut codec = codec;
                for buffer in buffers {
                    codec.write_all(&buffer)?;
                }
                codec.finish()
            })?;
        Ok(DeflateThread {
            queue: Some(queue),
            worker: Some(worker),
        })
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sent = match &self.queue {
            Some(queue) => queue.send(buf.to_vec()).is_ok(),
            None => false,
        };
        if sent {
            return Ok(buf.len());
        }
        // The thread stopped on an error: that error is the answer.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the compression already ended")),
        }
    }

    fn finish(mut self) -> io::Result<Sealing> {
        self.join()
    }

    fn join(&mut self) -> io::Result<Sealing> {
        self.queue = None;
        match self.worker.take() {
            Some(worker) => worker
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the compression thread panicked"))),
            None => Err(io::Error::other("the compression already ended")),
        }
    }
}

impl Drop for DeflateThread {
    /// A file dropped without commit: the thread ends with the queue, before the file goes.
    fn drop(&mut self) {
        if self.worker.is_some() {
            let _ = self.join();
        }
    }
}

/// A file being written; see the module doc.
pub struct OutputFile {
    out: BufWriter<Codec>,
    /// Bytes taken in so far, until the compression moves to its own thread.
    taken_in: u64,
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
            Codec::Gzip(Gzip::new(sealing))
        } else {
            Codec::Raw(sealing)
        };
        Ok(OutputFile {
            out: BufWriter::with_capacity(OUTPUT_BUFFER, codec),
            taken_in: 0,
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
            .map_err(|e| ArchiveError::io(&self.path, e))?;
        if self.taken_in <= DEFLATE_THREAD_AFTER {
            self.taken_in += bytes.len() as u64;
            if self.taken_in > DEFLATE_THREAD_AFTER {
                self.move_deflate_to_thread()
                    .map_err(|e| ArchiveError::io(&self.path, e))?;
            }
        }
        Ok(())
    }

    fn move_deflate_to_thread(&mut self) -> io::Result<()> {
        if !matches!(self.out.get_ref(), Codec::Gzip(_)) {
            return Ok(());
        }
        // Never written to: it stands in while the codec changes hands.
        let placeholder = Codec::Raw(Sealing::Clear(TallyFile {
            place: self.place.clone(),
            tally: Arc::new(Mutex::new(Tally::default())),
        }));
        let out = std::mem::replace(&mut self.out, BufWriter::new(placeholder));
        // Empties the buffer into the codec (its bytes go in before the thread's), without
        // the flush that would end a deflate block early.
        let codec = out.into_inner().map_err(|e| e.into_error())?;
        self.out =
            BufWriter::with_capacity(OUTPUT_BUFFER, Codec::OnThread(DeflateThread::start(codec)?));
        Ok(())
    }

    /// Copies a stream in, through a fixed-size buffer.
    pub fn copy_from(&mut self, data: &mut dyn io::Read) -> Result<u64, ArchiveError> {
        io::copy(data, &mut self.out).map_err(|e| ArchiveError::io(&self.path, e))
    }

    /// Ends every layer and renames the file into place (or completes the upload). Returns
    /// the stored size and SHA-256 under `relative` (the name recorded in manifests).
    ///
    /// A local file is not fsynced here: [`sync_filesystem`] makes every file of a backup
    /// durable at once before its manifest is written, which is what marks it complete (a
    /// crash before that leaves a backup without manifest, never trusted). One sync per
    /// backup instead of two per file: a backup of many small users was waiting on them.
    pub fn commit(self, relative: String) -> Result<FileEntry, ArchiveError> {
        self.finish(relative, false)
    }

    /// [`Self::commit`], and the file and its folder entry fsynced before it returns.
    pub fn commit_durable(self, relative: String) -> Result<FileEntry, ArchiveError> {
        self.finish(relative, true)
    }

    fn finish(self, relative: String, durable: bool) -> Result<FileEntry, ArchiveError> {
        let path = self.path;
        let err = |e: io::Error| ArchiveError::io(&path, e);
        let codec = self.out.into_inner().map_err(|e| err(e.into_error()))?;
        codec.finish().map_err(err)?.finish().map_err(err)?;
        match (self.place, self.temp) {
            (Place::File(file), Some(temp)) => {
                if durable {
                    file.sync_all().map_err(err)?;
                }
                drop(file);
                temp.persist(&path).map_err(|e| err(e.error))?;
                if durable {
                    sync_dir(parent(&path))?;
                }
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

/// Makes everything written under `dir` durable (local folders: `syncfs` of the filesystem
/// holding it, which writes out every file and folder entry at once). An object store's
/// uploads are durable once completed.
pub fn sync_filesystem(backend: &Backend, dir: &Path) -> Result<(), ArchiveError> {
    use std::os::fd::AsRawFd;
    if !backend.is_local() {
        return Ok(());
    }
    let folder = File::open(dir).map_err(|e| ArchiveError::io(dir, e))?;
    // SAFETY: syncfs only reads the descriptor, which `folder` keeps open for the call.
    if unsafe { libc::syncfs(folder.as_raw_fd()) } != 0 {
        return Err(ArchiveError::io(dir, io::Error::last_os_error()));
    }
    Ok(())
}

/// Writes a whole small file (manifests, envelope) atomically; see [`OutputFile::commit`]
/// for when it is durable.
pub fn write_file(
    backend: &Backend,
    path: &Path,
    bytes: &[u8],
    sealer: Option<&Arc<dyn FileSealer>>,
    relative: String,
) -> Result<FileEntry, ArchiveError> {
    written(backend, path, bytes, sealer)?.commit(relative)
}

/// [`write_file`], durable when it returns (a backup's manifest).
pub fn write_file_durable(
    backend: &Backend,
    path: &Path,
    bytes: &[u8],
    sealer: Option<&Arc<dyn FileSealer>>,
    relative: String,
) -> Result<FileEntry, ArchiveError> {
    written(backend, path, bytes, sealer)?.commit_durable(relative)
}

/// A small file with all its bytes in, not yet committed.
fn written(
    backend: &Backend,
    path: &Path,
    bytes: &[u8],
    sealer: Option<&Arc<dyn FileSealer>>,
) -> Result<OutputFile, ArchiveError> {
    let mut out = OutputFile::create(backend, path, false, sealer)?;
    out.write_all(bytes)?;
    Ok(out)
}

/// Creates a folder (and its parents), 0700 as every folder holding user data; its entry is
/// made durable with the backup's files (see [`sync_filesystem`]). Folders of an object store
/// need no creating.
pub fn ensure_dir(backend: &Backend, dir: &Path) -> Result<(), ArchiveError> {
    if !backend.is_local() {
        return Ok(());
    }
    // A folder already there is found by the creation itself (one system call for a new one).
    crate::private_fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))
}

/// Removes the temporary files (`.<name>.<random>.tmp`) a run killed outright left in `dir`
/// (and its sub-folders with `recursive`); the caller holds the output's lock, so no live run
/// owns them. Returns how many.
pub fn remove_stale_temp_files(
    backend: &Backend,
    dir: &Path,
    recursive: bool,
) -> Result<usize, ArchiveError> {
    if !backend.is_local() {
        return Ok(0);
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ArchiveError::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| ArchiveError::io(dir, e))?;
        let path = entry.path();
        // file_type does not follow links: a link is neither walked into nor removed.
        let kind = entry.file_type().map_err(|e| ArchiveError::io(&path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() && recursive {
            removed += remove_stale_temp_files(backend, &path, true)?;
        } else if kind.is_file() && name.starts_with('.') && name.ends_with(".tmp") {
            std::fs::remove_file(&path).map_err(|e| ArchiveError::io(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::crypto::Pryvbke1;

    /// Lines of every kind of byte, well past the size where deflate moves to its thread.
    fn lines() -> Vec<u8> {
        (0..60_000u32)
            .flat_map(|i| {
                format!("{{\"id\":\"e{i}\",\"n\":{},\"t\":\"é\\t{i:x}\"}}\n", i * 7).into_bytes()
            })
            .collect()
    }

    fn written(sealer: Option<Arc<dyn FileSealer>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events-0001.jsonl.gz");
        let data = lines();
        assert!(data.len() as u64 > 2 * DEFLATE_THREAD_AFTER);
        let mut out = OutputFile::create(&Backend::Local, &path, true, sealer.as_ref()).unwrap();
        for piece in data.chunks(1000) {
            out.write_all(piece).unwrap();
        }
        assert!(matches!(out.out.get_ref(), Codec::OnThread(_)));
        let entry = out.commit("events-0001.jsonl.gz".into()).unwrap();

        let stored = fs::read(&path).unwrap();
        assert_eq!(entry.size, stored.len() as u64);
        assert_eq!(entry.sha256.unwrap(), hex::encode(Sha256::digest(&stored)));
        let mut back = Vec::new();
        super::super::input::open(&Backend::Local, &path, true, sealer.as_ref())
            .unwrap()
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data, "the file reads back as written");
    }

    #[test]
    fn a_big_file_deflated_on_its_own_thread_reads_back_whole() {
        written(None);
    }

    #[test]
    fn a_big_sealed_file_deflated_on_its_own_thread_reads_back_whole() {
        written(Some(Arc::new(
            Pryvbke1::with_passphrase("correct horse").unwrap(),
        )));
    }

    #[test]
    fn a_file_dropped_before_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events-0001.jsonl.gz");
        let mut out = OutputFile::create(&Backend::Local, &path, true, None).unwrap();
        out.write_all(&lines()).unwrap();
        drop(out);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
