//! The one preprocessing path: any image → centre square crop → antialiased resize → normalised CHW `f32`.
//!
//! Every front end (native benchmark, wasm façade, tests) feeds pixels through [`Preprocessor`], so a frame
//! looks the same to the student wherever it comes from.

use serde::{Deserialize, Serialize};

use crate::error::{CvmError, Result};

/// Pixel layout of an [`ImageView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PixelFormat {
    /// One byte per pixel.
    Gray8,
    /// Three bytes per pixel.
    Rgb8,
    /// Four bytes per pixel (alpha ignored), as `ImageData` and canvases give.
    Rgba8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Gray8 => 1,
            Self::Rgb8 => 3,
            Self::Rgba8 => 4,
        }
    }
}

/// Borrowed pixels with their size and layout, validated on construction.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    width: usize,
    height: usize,
    format: PixelFormat,
    data: &'a [u8],
}

/// Largest accepted side, in pixels (a 16k frame is surely a mistake).
pub const MAX_IMAGE_SIDE: usize = 16_384;

impl<'a> ImageView<'a> {
    pub fn new(width: usize, height: usize, format: PixelFormat, data: &'a [u8]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(CvmError::InvalidImage(format!("size {width}×{height} is empty")));
        }
        if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
            return Err(CvmError::InvalidImage(format!(
                "size {width}×{height} exceeds the {MAX_IMAGE_SIDE}-pixel limit"
            )));
        }
        let expected = width * height * format.bytes_per_pixel();
        if data.len() != expected {
            return Err(CvmError::InvalidImage(format!(
                "{width}×{height} {format:?} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self { width, height, format, data })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Pixel `(x, y)` as RGB.
    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let bpp = self.format.bytes_per_pixel();
        let p = &self.data[(y * self.width + x) * bpp..][..bpp];
        match self.format {
            PixelFormat::Gray8 => [p[0] as f32; 3],
            _ => [p[0] as f32, p[1] as f32, p[2] as f32],
        }
    }
}

/// How raw `0..=255` values become model inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Normalization {
    /// `x / 255`.
    UnitRange,
    /// `(x − 127) / 128`, as EfficientNet-Lite expects.
    Centered,
}

/// What a student expects: channel count (1 = grey, 3 = RGB), square side and normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub channels: usize,
    pub size: usize,
    pub normalization: Normalization,
}

impl InputSpec {
    /// Number of `f32` values one preprocessed image occupies.
    pub fn values(&self) -> usize {
        self.channels * self.size * self.size
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.channels == 1 || self.channels == 3) {
            return Err(CvmError::arg(format!("input channels must be 1 or 3, got {}", self.channels)));
        }
        if !(8..=512).contains(&self.size) {
            return Err(CvmError::arg(format!("input size must be in 8..=512, got {}", self.size)));
        }
        Ok(())
    }
}

/// Resampling taps for one axis: for each output index, `(first source index, weights)`.
#[derive(Debug, Default, Clone)]
struct AxisTaps {
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<f32>,
    stride: usize,
}

impl AxisTaps {
    /// Triangle filter widened by the scale factor when shrinking (antialiasing), plain bilinear when growing.
    fn new(src_offset: usize, src_len: usize, dst_len: usize) -> Self {
        let scale = src_len as f32 / dst_len as f32;
        let support = scale.max(1.0);
        let stride = (2.0 * support).ceil() as usize + 1;
        let mut taps = Self {
            start: Vec::with_capacity(dst_len),
            len: Vec::with_capacity(dst_len),
            weights: vec![0.0; dst_len * stride],
            stride,
        };
        for i in 0..dst_len {
            let centre = (i as f32 + 0.5) * scale;
            let lo = ((centre - support).floor().max(0.0)) as usize;
            let hi = (((centre + support).ceil()) as usize).min(src_len);
            let w = &mut taps.weights[i * stride..][..stride];
            let mut total = 0.0;
            let mut n = 0;
            for s in lo..hi {
                let d = ((s as f32 + 0.5 - centre) / support).abs();
                let weight = (1.0 - d).max(0.0);
                if n < stride {
                    w[n] = weight;
                    total += weight;
                    n += 1;
                }
            }
            if total > 0.0 {
                w[..n].iter_mut().for_each(|v| *v /= total);
            } else {
                // Degenerate (1-pixel source): copy the nearest pixel.
                w[0] = 1.0;
                n = 1;
            }
            taps.start.push(src_offset + lo.min(src_len - 1));
            taps.len.push(n);
        }
        taps
    }
}

/// Turns images into model inputs; keeps its resampling tables and scratch buffer between frames of one size.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    spec: InputSpec,
    cached_for: Option<(usize, usize)>,
    rows: AxisTaps,
    cols: AxisTaps,
    /// Horizontally resampled rows: `crop_height × size × 3`.
    scratch: Vec<f32>,
}

impl Preprocessor {
    pub fn new(spec: InputSpec) -> Result<Self> {
        spec.validate()?;
        Ok(Self { spec, cached_for: None, rows: AxisTaps::default(), cols: AxisTaps::default(), scratch: Vec::new() })
    }

    pub fn spec(&self) -> &InputSpec {
        &self.spec
    }

    /// Writes the preprocessed image (CHW) into `out`, which must hold [`InputSpec::len`] values.
    pub fn run(&mut self, image: ImageView<'_>, out: &mut [f32]) -> Result<()> {
        let size = self.spec.size;
        if out.len() != self.spec.values() {
            return Err(CvmError::arg(format!("output buffer holds {}, needs {}", out.len(), self.spec.values())));
        }
        let (w, h) = (image.width, image.height);
        let side = w.min(h);
        let (x0, y0) = ((w - side) / 2, (h - side) / 2);
        if self.cached_for != Some((w, h)) {
            self.cols = AxisTaps::new(x0, side, size);
            self.rows = AxisTaps::new(y0, side, size);
            self.scratch.resize(side * size * 3, 0.0);
            self.cached_for = Some((w, h));
        }
        // Horizontal pass over the rows of the crop.
        for (r, y) in (y0..y0 + side).enumerate() {
            for ox in 0..size {
                let taps = &self.cols.weights[ox * self.cols.stride..][..self.cols.len[ox]];
                let mut acc = [0.0f32; 3];
                for (k, &wgt) in taps.iter().enumerate() {
                    let px = image.rgb(self.cols.start[ox] + k, y);
                    for c in 0..3 {
                        acc[c] += wgt * px[c];
                    }
                }
                self.scratch[(r * size + ox) * 3..][..3].copy_from_slice(&acc);
            }
        }
        // Vertical pass, colour conversion and normalisation.
        let plane = size * size;
        for oy in 0..size {
            let taps = &self.rows.weights[oy * self.rows.stride..][..self.rows.len[oy]];
            let first_row = self.rows.start[oy] - y0;
            for ox in 0..size {
                let mut acc = [0.0f32; 3];
                for (k, &wgt) in taps.iter().enumerate() {
                    let s = &self.scratch[((first_row + k) * size + ox) * 3..][..3];
                    for c in 0..3 {
                        acc[c] += wgt * s[c];
                    }
                }
                let idx = oy * size + ox;
                if self.spec.channels == 1 {
                    out[idx] = self.normalise(0.299 * acc[0] + 0.587 * acc[1] + 0.114 * acc[2]);
                } else {
                    for c in 0..3 {
                        out[c * plane + idx] = self.normalise(acc[c]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Convenience for one-off calls: allocates the output.
    pub fn to_vec(&mut self, image: ImageView<'_>) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.spec.values()];
        self.run(image, &mut out)?;
        Ok(out)
    }

    fn normalise(&self, v: f32) -> f32 {
        match self.spec.normalization {
            Normalization::UnitRange => v / 255.0,
            Normalization::Centered => (v - 127.0) / 128.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(channels: usize, size: usize) -> InputSpec {
        InputSpec { channels, size, normalization: Normalization::UnitRange }
    }

    #[test]
    fn identity_size_keeps_pixels() {
        let data: Vec<u8> = (0..16).map(|v| v * 10).collect();
        let img = ImageView::new(4, 4, PixelFormat::Gray8, &data).unwrap();
        let out = Preprocessor::new(InputSpec { size: 8, ..spec(1, 8) }).unwrap().to_vec(img).unwrap();
        assert_eq!(out.len(), 64);
        // Upsampled 2×: corners keep their values.
        assert!((out[0] - 0.0).abs() < 1e-6);
        assert!((out[63] - 150.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn constant_image_stays_constant_and_crops_centre() {
        // 6×4 RGBA: left and right columns red, centre 4×4 grey 100.
        let mut data = vec![0u8; 6 * 4 * 4];
        for y in 0..4 {
            for x in 0..6 {
                let p = &mut data[(y * 6 + x) * 4..][..4];
                p.copy_from_slice(if x == 0 || x == 5 { &[255, 0, 0, 255] } else { &[100, 100, 100, 255] });
            }
        }
        let img = ImageView::new(6, 4, PixelFormat::Rgba8, &data).unwrap();
        let out = Preprocessor::new(InputSpec { normalization: Normalization::Centered, ..spec(3, 8) })
            .unwrap()
            .to_vec(img)
            .unwrap();
        let expected = (100.0 - 127.0) / 128.0;
        assert!(out.iter().all(|v| (v - expected).abs() < 1e-5), "{out:?}");
    }

    #[test]
    fn downscale_averages() {
        // 32×32 checkerboard 0/255 → 8×8 should be close to mid grey everywhere.
        let data: Vec<u8> = (0..32 * 32).map(|i| if (i / 32 + i % 32) % 2 == 0 { 0 } else { 255 }).collect();
        let img = ImageView::new(32, 32, PixelFormat::Gray8, &data).unwrap();
        let out = Preprocessor::new(spec(1, 8)).unwrap().to_vec(img).unwrap();
        assert!(out.iter().all(|v| (v - 0.5).abs() < 0.05), "{out:?}");
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(ImageView::new(4, 4, PixelFormat::Rgba8, &[0; 10]), Err(CvmError::InvalidImage(_))));
        assert!(ImageView::new(0, 4, PixelFormat::Gray8, &[]).is_err());
        let mut p = Preprocessor::new(spec(1, 8)).unwrap();
        let img = ImageView::new(2, 2, PixelFormat::Gray8, &[0; 4]).unwrap();
        assert!(p.run(img, &mut [0.0; 3]).is_err());
        assert!(Preprocessor::new(spec(2, 8)).is_err());
    }
}
