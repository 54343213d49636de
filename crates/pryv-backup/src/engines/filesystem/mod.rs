//! The filesystem file engine of open-pryv.io: attachments as plain files in each user's local
//! directory (see docs/storage-layout.md, sections 5 and 6.1).

mod attachments;
mod user_dir;

pub use attachments::FsAttachments;
pub use user_dir::{check_path_component, user_local_dir};
