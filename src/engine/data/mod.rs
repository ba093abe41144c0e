//! Image data: built-in synthetic domains, folder datasets in their layouts, and the
//! attacker-side fractions and augmentations.

pub mod attack_side;
pub mod folder;
pub mod synthetic;
