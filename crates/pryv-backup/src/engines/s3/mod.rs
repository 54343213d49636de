//! The S3 file engine of open-pryv.io: each attachment is one object of a bucket (see
//! docs/storage-layout.md, section 6.3).

mod attachments;

pub use attachments::S3Attachments;
