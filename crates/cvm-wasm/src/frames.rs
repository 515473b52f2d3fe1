//! Pixels from whatever JavaScript hands over: `ImageData`, raw RGBA bytes, or anything `drawImage` accepts
//! (video, image bitmap, canvas, image), copied at its own size through a reused `OffscreenCanvas`. Nothing here
//! crops or scales: the core's preprocessing (`cvm::image`) is the one path every frame takes, in the page and
//! natively alike.

use js_sys::{Reflect, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

use crate::error::{Error, Result};
use cvm::{ImageView, PixelFormat};

/// Reads frames into one reused RGBA buffer.
#[derive(Default)]
pub struct Frames {
    canvas: Option<(OffscreenCanvas, OffscreenCanvasRenderingContext2d)>,
    rgba: Vec<u8>,
}

/// The most pixels a frame may have (4096², 64 MB as RGBA): larger ones are refused before they are copied, since
/// the wasm memory could not take them (a 4K camera frame is 8.3 megapixels; scale a large photo down first).
const MAX_PIXELS: u64 = 4096 * 4096;

/// A numeric property of `value`, if it has one.
fn number(value: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(value, &key.into()).ok().and_then(|v| v.as_f64())
}

/// The size `drawImage` would draw `image` at, under the first pair of keys it has (videos, images, video frames,
/// everything else); `None` for something that is no drawable at all.
fn drawable_size(image: &JsValue) -> Option<(f64, f64)> {
    if !image.is_object() {
        return None;
    }
    [
        ("videoWidth", "videoHeight"),
        ("naturalWidth", "naturalHeight"),
        ("displayWidth", "displayHeight"),
        ("width", "height"),
    ]
    .iter()
    .find_map(|(w, h)| Some((number(image, w)?, number(image, h)?)))
}

/// Refuses a frame with no pixels or more than [`MAX_PIXELS`].
fn check_size(w: f64, h: f64) -> Result<(u32, u32)> {
    if !(w >= 1.0 && h >= 1.0) {
        return Err(Error::image(
            "the image has no size yet (a video that has not started, an image still loading, a closed bitmap?)",
        ));
    }
    if w * h > MAX_PIXELS as f64 {
        return Err(too_large(w, h));
    }
    Ok((w as u32, h as u32))
}

fn too_large(w: impl std::fmt::Display, h: impl std::fmt::Display) -> Error {
    Error::image(format!(
        "a {w}×{h} image is larger than the {MAX_PIXELS} pixels a frame may have: scale it down first"
    ))
}

impl Frames {
    /// Copies `image` into [`Frames::rgba`]; returns its width and height.
    fn read(&mut self, image: &JsValue, width: Option<u32>, height: Option<u32>) -> Result<(usize, usize)> {
        if let Some(bytes) = image.dyn_ref::<Uint8Array>() {
            return self.raw(bytes.length(), width, height, |out| bytes.copy_to(out));
        }
        if let Some(bytes) = image.dyn_ref::<Uint8ClampedArray>() {
            return self.raw(bytes.length(), width, height, |out| bytes.copy_to(out));
        }
        if let Some(data) = image.dyn_ref::<ImageData>() {
            let pixels: Uint8ClampedArray = Reflect::get(data, &"data".into()).map_err(Error::js)?.unchecked_into();
            return self.raw(pixels.length(), Some(data.width()), Some(data.height()), |out| pixels.copy_to(out));
        }
        let Some((w, h)) = drawable_size(image) else {
            return Err(Error::image(
                "unsupported image: pass ImageData, ImageBitmap, VideoFrame, an <img>, <video> or <canvas> element, an OffscreenCanvas, or RGBA bytes (Uint8Array) with width and height",
            ));
        };
        let (w, h) = check_size(w, h)?;
        let ctx = self.canvas(w, h)?;
        let source = image.unchecked_ref::<web_sys::HtmlCanvasElement>();
        ctx.draw_image_with_html_canvas_element(source, 0.0, 0.0)
            .map_err(|e| Error::image(format!("cannot draw the image: {}", Error::js(e))))?;
        let data = ctx.get_image_data(0.0, 0.0, w as f64, h as f64).map_err(Error::js)?;
        let pixels: Uint8ClampedArray = Reflect::get(&data, &"data".into()).map_err(Error::js)?.unchecked_into();
        self.raw(pixels.length(), Some(w), Some(h), |out| pixels.copy_to(out))
    }

    /// [`Frames::read`], as a view of the buffer.
    pub fn view(&mut self, image: &JsValue, width: Option<u32>, height: Option<u32>) -> Result<ImageView<'_>> {
        let (w, h) = self.read(image, width, height)?;
        Ok(ImageView::new(w, h, PixelFormat::Rgba8, &self.rgba)?)
    }

    /// Checks the byte count against the size, then lets `copy` fill the reused buffer.
    fn raw(
        &mut self,
        len: u32,
        width: Option<u32>,
        height: Option<u32>,
        copy: impl FnOnce(&mut [u8]),
    ) -> Result<(usize, usize)> {
        let (Some(w), Some(h)) = (width, height) else {
            return Err(Error::image("raw pixel bytes need width and height"));
        };
        if w as u64 * h as u64 > MAX_PIXELS {
            return Err(too_large(w, h));
        }
        let expected = w as u64 * h as u64 * 4;
        if len as u64 != expected {
            return Err(Error::image(format!("{w}×{h} RGBA needs {expected} bytes, got {len}")));
        }
        self.rgba.resize(len as usize, 0);
        copy(&mut self.rgba);
        Ok((w as usize, h as usize))
    }

    /// The reused canvas, sized `w`×`h` (resizing clears it; a frame is drawn over all of it anyway).
    fn canvas(&mut self, w: u32, h: u32) -> Result<&OffscreenCanvasRenderingContext2d> {
        if self.canvas.is_none() {
            let canvas = OffscreenCanvas::new(w, h).map_err(Error::js)?;
            let options = js_sys::Object::new();
            Reflect::set(&options, &"willReadFrequently".into(), &true.into()).map_err(Error::js)?;
            let ctx = canvas
                .get_context_with_context_options("2d", &options)
                .map_err(Error::js)?
                .ok_or_else(|| Error::msg("no 2D canvas context available"))?
                .unchecked_into::<OffscreenCanvasRenderingContext2d>();
            self.canvas = Some((canvas, ctx));
        }
        let (canvas, ctx) = self.canvas.as_ref().expect("just set");
        if (canvas.width(), canvas.height()) != (w, h) {
            canvas.set_width(w);
            canvas.set_height(h);
        }
        Ok(ctx)
    }
}
