//! Infrastructure below the repositories: the durable store and its file formats.

pub mod store;
