//! The chart image of a report mail: a bar chart of conversations per bucket, drawn into an RGB
//! pixel buffer and encoded as PNG. It has no text (the mail's HTML labels the bars below it), so
//! it needs no fonts and looks the same in every language.

/// Width and height in pixels (shown at half size in the mail, sharp on high-density screens).
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 360;
const MARGIN: u32 = 24;

const BACKGROUND: [u8; 3] = [255, 255, 255];
const GRID: [u8; 3] = [232, 232, 232];
const AXIS: [u8; 3] = [191, 191, 191];
const BAR: [u8; 3] = [22, 119, 255];
const MISSED: [u8; 3] = [250, 140, 22];

/// Draws `values` as bars (with the part in `highlighted` in the second colour, stacked on top),
/// with four grid lines; returns the PNG.
pub fn bars(values: &[i64], highlighted: &[i64]) -> Result<Vec<u8>, png::EncodingError> {
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    for pixel in pixels.chunks_exact_mut(3) {
        pixel.copy_from_slice(&BACKGROUND);
    }
    let mut fill = |x0: u32, y0: u32, x1: u32, y1: u32, colour: [u8; 3]| {
        for y in y0.min(HEIGHT)..y1.min(HEIGHT) {
            for x in x0.min(WIDTH)..x1.min(WIDTH) {
                let at = ((y * WIDTH + x) * 3) as usize;
                pixels[at..at + 3].copy_from_slice(&colour);
            }
        }
    };
    let plot_height = HEIGHT - 2 * MARGIN;
    let base = HEIGHT - MARGIN;
    for line in 1..=4 {
        let y = base - plot_height * line / 4;
        fill(MARGIN, y, WIDTH - MARGIN, y + 2, GRID);
    }
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let count = u32::try_from(values.len()).unwrap_or(u32::MAX).max(1);
    let slot = (WIDTH - 2 * MARGIN) / count;
    let gap = (slot / 5).max(1);
    let scale = |v: i64| -> u32 {
        let v = u64::try_from(v.clamp(0, max)).unwrap_or(0);
        u32::try_from(v * u64::from(plot_height) / u64::try_from(max).unwrap_or(1)).unwrap_or(plot_height)
    };
    for (i, value) in values.iter().enumerate() {
        let x0 = MARGIN + slot * u32::try_from(i).unwrap_or(0) + gap / 2;
        let x1 = x0 + slot - gap;
        let total = scale(*value);
        let part = scale(highlighted.get(i).copied().unwrap_or(0).min(*value));
        fill(x0, base - total, x1, base - part, BAR);
        fill(x0, base - part, x1, base, MISSED);
    }
    fill(MARGIN, base, WIDTH - MARGIN, base + 2, AXIS);

    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buffer = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buffer).expect("a frame");
        (info, buffer)
    }

    fn pixel(buffer: &[u8], x: u32, y: u32) -> [u8; 3] {
        let at = ((y * WIDTH + x) * 3) as usize;
        [buffer[at], buffer[at + 1], buffer[at + 2]]
    }

    #[test]
    fn bars_are_as_tall_as_their_values() {
        let bytes = bars(&[10, 5, 0], &[2, 0, 0]).expect("png");
        assert!(bytes.len() < 40_000, "small enough to mail: {} bytes", bytes.len());
        let (info, buffer) = decode(&bytes);
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let slot = (WIDTH - 2 * MARGIN) / 3;
        let middle = |i: u32| MARGIN + slot * i + slot / 2;
        let top = MARGIN + 4;
        let half = HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) / 2;
        // The tallest bar reaches the top; the half-size one only half-way; the empty one nothing.
        assert_eq!(pixel(&buffer, middle(0), top), BAR);
        assert_eq!(pixel(&buffer, middle(1), top), BACKGROUND);
        assert_eq!(pixel(&buffer, middle(1), half + 3), BAR);
        assert_eq!(pixel(&buffer, middle(2), HEIGHT - MARGIN - 3), BACKGROUND);
        // The missed part sits at the bottom of its bar.
        assert_eq!(pixel(&buffer, middle(0), HEIGHT - MARGIN - 3), MISSED);
    }

    #[test]
    fn nothing_to_draw_is_still_an_image() {
        let (info, _) = decode(&bars(&[], &[]).expect("png"));
        assert_eq!(info.width, WIDTH);
    }
}
