//! Image data: built-in synthetic domains (and, next, folder datasets in their layouts).

pub mod attack_side;
pub mod synthetic;
