//! The one font of heist, DejaVu Sans (its licence in `fonts/`), embedded so that text in
//! figures and watermark triggers renders the same on machines without fonts.

use std::sync::Once;

/// The family name plotters knows it by.
pub const FAMILY: &str = "sans-serif";

/// Registers the font with plotters (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, bytes)
            .is_err()
        {
            panic!("the embedded DejaVu Sans is a valid font");
        }
    });
}
