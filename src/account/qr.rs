//! QR codes as inline SVG: one path of dark modules, no script, no external image.

use std::fmt::Write;

use qrcode::{Color, QrCode};

/// Draws `text` as an SVG QR code with a quiet zone; `None` if it is too long for one.
pub(crate) fn svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            // Invariant: writing to a String cannot fail.
            let _ = write!(path, "M{x} {y}h1v1h-1z");
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_of_the_modules() {
        let drawn = svg("otpauth://totp/davgate:alice?secret=ABC").unwrap();
        assert!(drawn.starts_with("<svg") && drawn.ends_with("</svg>"));
        assert!(drawn.contains("h1v1h-1z"));
        assert!(svg(&"x".repeat(5000)).is_none());
    }
}
