//! Writing one object as a stream: bytes fill a part buffer; a full part is handed to the
//! runtime to upload while the next one fills. An object that never fills a part is sent
//! with one plain PUT. Nothing is visible under the key until [`Upload::finish`]: S3 shows a
//! multipart object only once it is completed, and dropping an unfinished upload aborts it.

use std::io::{self, Write};

use object_store::path::Path as Key;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use tokio::task::JoinHandle;

use super::{runtime, Bucket, S3Error, PART_SIZE};

pub struct Upload {
    bucket: Bucket,
    path: Key,
    key: String,
    buffer: Vec<u8>,
    multipart: Option<Box<dyn MultipartUpload>>,
    in_flight: Option<JoinHandle<object_store::Result<()>>>,
    finished: bool,
}

impl Upload {
    pub(super) fn new(bucket: Bucket, path: Key, key: String) -> Upload {
        Upload {
            bucket,
            path,
            key,
            buffer: Vec::new(),
            multipart: None,
            in_flight: None,
            finished: false,
        }
    }

    pub fn url(&self) -> String {
        self.bucket.url(&self.key)
    }

    fn failed(&self, op: &'static str) -> impl FnOnce(object_store::Error) -> S3Error {
        self.bucket.failed(op, &self.key)
    }

    /// Waits for the part in flight, if any.
    fn settle(&mut self) -> Result<(), S3Error> {
        let Some(handle) = self.in_flight.take() else {
            return Ok(());
        };
        let joined = runtime()?
            .block_on(handle)
            .map_err(|e| S3Error::Config(format!("upload of {} stopped: {e}", self.url())))?;
        joined.map_err(self.failed("part upload"))
    }

    /// Sends the buffer as the next part (starting the multipart upload on the first).
    fn send_part(&mut self) -> Result<(), S3Error> {
        let rt = runtime()?;
        if self.multipart.is_none() {
            let started = rt
                .block_on(self.bucket.store.put_multipart(&self.path))
                .map_err(self.failed("multipart start"))?;
            self.multipart = Some(started);
        }
        // One part uploads while the next fills: wait for the previous before sending.
        self.settle()?;
        let part = PutPayload::from(std::mem::take(&mut self.buffer));
        if let Some(upload) = self.multipart.as_mut() {
            let sending = upload.put_part(part);
            self.in_flight = Some(rt.spawn(sending));
        }
        Ok(())
    }

    /// Uploads what is left and makes the object visible under its key.
    pub fn finish(mut self) -> Result<(), S3Error> {
        let rt = runtime()?;
        if self.multipart.is_none() {
            let body = PutPayload::from(std::mem::take(&mut self.buffer));
            rt.block_on(self.bucket.store.put(&self.path, body))
                .map_err(self.failed("upload"))?;
            self.finished = true;
            return Ok(());
        }
        if !self.buffer.is_empty() {
            self.send_part()?;
        }
        self.settle()?;
        if let Some(upload) = self.multipart.as_mut() {
            let done = rt.block_on(upload.complete());
            done.map_err(self.failed("multipart completion"))?;
        }
        self.finished = true;
        Ok(())
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(PART_SIZE);
        }
        let n = buf.len().min(PART_SIZE - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == PART_SIZE {
            self.send_part().map_err(io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Best effort: parts of an unfinished upload would otherwise be kept (and billed)
        // by the store until a lifecycle rule removes them.
        let url = self.url();
        if let (Some(upload), Ok(rt)) = (self.multipart.as_mut(), runtime()) {
            if let Some(handle) = self.in_flight.take() {
                let _ = rt.block_on(handle);
            }
            if let Err(e) = rt.block_on(upload.abort()) {
                tracing::warn!("could not abort the unfinished upload of {url}: {e}");
            }
        }
    }
}
