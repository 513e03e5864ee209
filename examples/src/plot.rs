//! Plot helpers: registers the embedded font so plotters can draw text without system libraries.

use std::sync::Once;

static REGISTER: Once = Once::new();

/// The font family name the examples draw text with.
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans font under [`FONT`] (idempotent). Call before drawing text.
pub fn register_font() {
    REGISTER.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        // The font is a known-good file embedded at compile time; failure would be a build defect.
        if plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, bytes).is_err()
        {
            eprintln!("warning: could not register the embedded font; chart text may be missing");
        }
    });
}
