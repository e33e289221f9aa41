//! Files on disk from rows, and rows from files, as replds does for config and secrets.
//!
//! - [`materialize`]: keeps a directory equal to a table's rows (one file per row, at the
//!   path-field's value, holding the content-field's bytes), written atomically, never outside
//!   the directory.
//! - [`store`]: uploads a local directory as rows through the executive.

pub mod materialize;
pub mod safe_path;
pub mod store;

mod error;

pub use error::FilesError;
