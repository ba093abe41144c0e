//! Stage 5: running a checked program as cached, resumable jobs. Being built (issue #6): the
//! content-addressed cache is in place.

pub mod cache;
