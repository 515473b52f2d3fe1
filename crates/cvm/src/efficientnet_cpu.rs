//! The frozen trunk's forward pass on the CPU, written for inference: channel-last activations, bias, residual
//! and ReLU6 applied where each convolution writes its output, and buffers reused from frame to frame.
//!
//! burn's generic convolutions (channel-first, one allocated output per op, asymmetric "same" padding as an extra
//! padded copy, ReLU6 as a pass of its own) ran this network at 67 ms a frame in the browser. Here every 1×1
//! convolution (88 % of the multiply-adds) is one register-tiled matrix product over `[pixels, channels]`:
//! [`ROWS`] pixels × [`LANES`] output channels accumulate in registers while the inputs stream by, weights packed
//! in the order the kernel reads them, so the compiler turns the inner step into SIMD multiply-adds on every
//! target (wasm SIMD128 included) without target-specific code. A depthwise tap is one multiply-add over a pixel's
//! contiguous channels, and the stem runs as the same matrix product over 27-value patches. Same parameters as
//! [`crate::trunk`] (by path), same arithmetic up to the order of float additions (tested against it).
//!
//! With the `threads` feature every convolution's output is cut into one band of pixels a thread of rayon's pool
//! (each band's sums are the same as in one pass, so the features do not depend on the thread count), and the
//! pool's threads stay awake for the whole frame; without a pool (or without the feature) a convolution is one
//! band on the calling thread.

use std::cell::RefCell;
use std::sync::Mutex;

use crate::efficientnet::{FEATURES, block_shapes};
use crate::error::{CvmError, Result};
use crate::params::HostParams;

const WHAT: &str = "trunk blob";

/// A convolution's window along one axis with TensorFlow's "same" padding: output length and padding before.
fn same(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let output = input.div_ceil(stride);
    let total = ((output - 1) * stride + kernel).saturating_sub(input);
    (output, total / 2)
}

/// The taps `t` of output position `o`'s window that land inside the input: `o·stride + t − pad ∈ [0, input)`.
fn taps(o: usize, kernel: usize, stride: usize, pad: usize, input: usize) -> std::ops::Range<usize> {
    let start = (o * stride) as isize - pad as isize;
    let first = (-start).max(0) as usize;
    let last = (input as isize - start).clamp(0, kernel as isize) as usize;
    first..last.max(first)
}

fn relu6(values: &mut [f32]) {
    for v in values {
        *v = v.clamp(0.0, 6.0);
    }
}

/// Runs `work(item, band)` over `out` cut into bands of `band` items (`item`: the band's first), on every
/// thread of rayon's pool with the `threads` feature, else one band after another. The calling thread takes the
/// first band and then, until the others are done, runs whatever is posted rather than sleep on a rayon latch:
/// woken after every convolution whose band it finished first, it made one page in three run at 16–18 ms a frame
/// instead of 14–15 (two threads, in the browser).
fn in_bands(out: &mut [f32], band: usize, work: impl Fn(usize, &mut [f32]) + Sync + Send) {
    #[cfg(feature = "threads")]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let work = &work;
        let pending = AtomicUsize::new(0);
        rayon::in_place_scope(|scope| {
            let mut bands = out.chunks_mut(band).enumerate();
            let first = bands.next();
            for (i, chunk) in bands {
                pending.fetch_add(1, Ordering::Relaxed);
                let pending = &pending;
                scope.spawn(move |_| {
                    work(i * band, chunk);
                    pending.fetch_sub(1, Ordering::Release);
                });
            }
            if let Some((_, chunk)) = first {
                work(0, chunk);
            }
            run_posted_work_until(|| pending.load(Ordering::Acquire) == 0, u32::MAX);
        });
    }
    #[cfg(not(feature = "threads"))]
    out.chunks_mut(band).enumerate().for_each(|(i, chunk)| work(i * band, chunk));
}

/// How many of `units` go in one band: one band a thread, in multiples of `multiple` (all of them in one band
/// without threads). Smaller bands would even out unequal ones, but in the browser every further band costs a steal
/// that takes longer than it saves (two threads, 224×224, alternating pages: four bands a thread 16.2–19.7 ms a
/// frame, one 14.8–17.0).
fn band_units(units: usize, multiple: usize) -> usize {
    #[cfg(feature = "threads")]
    let threads = rayon::current_num_threads();
    #[cfg(not(feature = "threads"))]
    let threads = 1;
    units.div_ceil(threads).next_multiple_of(multiple).max(multiple)
}

/// Runs `frame` on rayon's pool with its other threads kept awake until `frame` returns (more than one thread):
/// between two convolutions an idle pool thread soon goes to sleep, and waking it (a futex, or `Atomics.wait` in a
/// browser) takes longer than a small layer's band. A waiting thread runs whatever bands are posted; it gives up
/// after [`IDLE_ROUNDS`] rounds without work, so no thread can wait here forever on a frame that waits on it.
#[cfg(feature = "threads")]
fn with_pool_awake<R: Send>(frame: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let threads = rayon::current_num_threads();
    if threads == 1 {
        return frame();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| run_posted_work_until(|| done.load(Ordering::Acquire), IDLE_ROUNDS));
        }
        let result = frame();
        done.store(true, Ordering::Release);
        result
    })
}

/// Rounds without work after which a thread kept awake by [`with_pool_awake`] goes back to rayon: far more than
/// a gap between two convolutions lasts.
#[cfg(feature = "threads")]
const IDLE_ROUNDS: u32 = 20_000;

/// Runs work posted to rayon's pool, spinning between jobs, until `done()` or `idle_rounds` rounds in a row
/// without any: a thread waiting here is never put to sleep, so it needs no waking.
#[cfg(feature = "threads")]
fn run_posted_work_until(done: impl Fn() -> bool, idle_rounds: u32) {
    let mut idle = 0;
    while idle < idle_rounds && !done() {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => idle = 0,
            _ => {
                idle += 1;
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(not(feature = "threads"))]
fn with_pool_awake<R>(frame: impl FnOnce() -> R) -> R {
    frame()
}

thread_local! {
    /// The pointwise kernel's tile of inputs, one per thread, kept between calls.
    static TILE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn param<'a>(params: &'a HostParams, path: &str, shape: &[usize]) -> Result<&'a [f32]> {
    match params.get(path) {
        Some((s, values)) if s == shape => Ok(values),
        Some((s, _)) => Err(CvmError::blob(WHAT, format!("tensor `{path}` has shape {s:?}, expected {shape:?}"))),
        None => Err(CvmError::blob(WHAT, format!("tensor `{path}` is missing (expected shape {shape:?})"))),
    }
}

/// Output channels per step of the pointwise kernel (two 128-bit SIMD vectors of f32).
const LANES: usize = 8;
/// Pixels per step of the pointwise kernel.
const ROWS: usize = 4;

/// A 1×1 convolution as a matrix product, with weights packed in panels of [`LANES`] output channels
/// (`[panel][input][lane]`), so the kernel reads them in order.
struct Pointwise {
    inputs: usize,
    outputs: usize,
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl Pointwise {
    fn load(params: &HostParams, path: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let weight = param(params, &format!("{path}.weight"), &[outputs, inputs, 1, 1])?;
        let bias = param(params, &format!("{path}.bias"), &[outputs])?;
        Self::new(path, weight, bias)
    }

    /// From `[outputs][inputs]` weights (row-major) and the bias.
    fn new(path: &str, weight: &[f32], bias: &[f32]) -> Result<Self> {
        let outputs = bias.len();
        let inputs = weight.len() / outputs;
        if !outputs.is_multiple_of(LANES) {
            return Err(CvmError::blob(WHAT, format!("`{path}` has {outputs} outputs, not a multiple of {LANES}")));
        }
        let mut packed = vec![0.0; inputs * outputs];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                packed[((o / LANES) * inputs + i) * LANES + o % LANES] = v;
            }
        }
        Ok(Self { inputs, outputs, packed, bias: bias.to_vec() })
    }

    /// `out[p] = bias + residual[p] + x[p] · W` for `pixels` channel-last pixels, then ReLU6 if asked.
    fn run(&self, x: &[f32], pixels: usize, residual: Option<&[f32]>, activate: bool, out: &mut [f32]) {
        let (x, out) = (&x[..pixels * self.inputs], &mut out[..pixels * self.outputs]);
        let band = band_units(pixels, ROWS);
        in_bands(out, band * self.outputs, |item, out| {
            TILE.with_borrow_mut(|tile| {
                tile.resize(self.inputs * ROWS, 0.0);
                let (start, end) = (item / self.outputs, (item + out.len()) / self.outputs);
                let whole = start + (end - start) / ROWS * ROWS;
                for p in (start..whole).step_by(ROWS) {
                    self.tile::<ROWS>(x, p, start, residual, activate, out, tile);
                }
                for p in whole..end {
                    self.tile::<1>(x, p, start, residual, activate, out, tile);
                }
            })
        });
    }

    /// `R` pixels from `first` on, all output channels, [`LANES`] at a time, into `out`, a band of the output
    /// from pixel `band` on; ReLU6 over them while they are in cache (inside the register tile, the clamp keeps the compiler from
    /// vectorising).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn tile<const R: usize>(
        &self,
        x: &[f32],
        first: usize,
        band: usize,
        residual: Option<&[f32]>,
        activate: bool,
        out: &mut [f32],
        scratch: &mut [f32],
    ) {
        let (n, m) = (self.inputs, self.outputs);
        // `[input][pixel]`: the kernel's inner step reads one input of the R pixels, contiguous.
        let tile = &mut scratch[..n * R];
        for r in 0..R {
            for (i, &v) in x[(first + r) * n..][..n].iter().enumerate() {
                tile[i * R + r] = v;
            }
        }
        let out = &mut out[(first - band) * m..][..R * m];
        for (panel, weights) in self.packed.chunks_exact(n * LANES).enumerate() {
            let lanes = panel * LANES..(panel + 1) * LANES;
            let mut acc = [[0.0f32; LANES]; R];
            for (r, acc) in acc.iter_mut().enumerate() {
                acc.copy_from_slice(&self.bias[lanes.clone()]);
                if let Some(residual) = residual {
                    for (a, &v) in acc.iter_mut().zip(&residual[(first + r) * m..][lanes.clone()]) {
                        *a += v;
                    }
                }
            }
            for (w, xs) in weights.as_chunks::<LANES>().0.iter().zip(tile.as_chunks::<R>().0) {
                for r in 0..R {
                    for j in 0..LANES {
                        acc[r][j] += xs[r] * w[j];
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                out[r * m..][lanes.clone()].copy_from_slice(acc);
            }
        }
        if activate {
            relu6(out);
        }
    }
}

/// A `k×k` depthwise convolution over channel-last pixels, + bias, ReLU6.
struct Depthwise {
    channels: usize,
    kernel: usize,
    stride: usize,
    /// `[ky][kx][channel]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Depthwise {
    fn load(params: &HostParams, path: &str, channels: usize, kernel: usize, stride: usize) -> Result<Self> {
        let w = param(params, &format!("{path}.weight"), &[channels, 1, kernel, kernel])?;
        let bias = param(params, &format!("{path}.bias"), &[channels])?.to_vec();
        if !channels.is_multiple_of(LANES) {
            return Err(CvmError::blob(WHAT, format!("`{path}` has {channels} channels, not a multiple of {LANES}")));
        }
        // `[ky][kx][channel]` (the blob's is `[channel][ky][kx]`).
        let taps = kernel * kernel;
        let weight = (0..taps).flat_map(|tap| (0..channels).map(move |c| w[c * taps + tap])).collect();
        Ok(Self { channels, kernel, stride, weight, bias })
    }

    /// `x` is `[side, side, channels]`; writes `[out_side, out_side, channels]` and returns `out_side`.
    fn run(&self, x: &[f32], side: usize, out: &mut [f32]) -> usize {
        let (k, c) = (self.kernel, self.channels);
        let (out_side, pad) = same(side, k, self.stride);
        let row = out_side * c;
        in_bands(&mut out[..out_side * row], band_units(out_side, 1) * row, |item, band| {
            for (oy, out_row) in (item / row..).zip(band.chunks_exact_mut(row)) {
                let rows = taps(oy, k, self.stride, pad, side);
                for (ox, pixel) in out_row.chunks_exact_mut(c).enumerate() {
                    let cols = taps(ox, k, self.stride, pad, side);
                    pixel.copy_from_slice(&self.bias);
                    for ky in rows.clone() {
                        let iy = oy * self.stride + ky - pad;
                        for kx in cols.clone() {
                            let ix = ox * self.stride + kx - pad;
                            let v = &x[(iy * side + ix) * c..][..c];
                            let w = &self.weight[(ky * k + kx) * c..][..c];
                            for ((a, &v), &w) in pixel.iter_mut().zip(v).zip(w) {
                                *a += v * w;
                            }
                        }
                    }
                    relu6(pixel);
                }
            }
        });
        out_side
    }
}

/// The stem: a 3×3, stride-2 convolution of the channel-first RGB image (+ bias, ReLU6), as the pointwise kernel
/// over each output pixel's 27-value patch.
struct Stem {
    patch: Pointwise,
}

impl Stem {
    const KERNEL: usize = 3;
    const STRIDE: usize = 2;

    fn load(params: &HostParams, outputs: usize) -> Result<Self> {
        let k = Self::KERNEL;
        let w = param(params, "stem.weight", &[outputs, 3, k, k])?;
        let bias = param(params, "stem.bias", &[outputs])?;
        // `[output][ky][kx][channel]`, the order of a patch (the blob's is `[output][channel][ky][kx]`).
        let mut weight = Vec::with_capacity(w.len());
        for output in w.chunks_exact(3 * k * k) {
            for tap in 0..k * k {
                weight.extend((0..3).map(|channel| output[channel * k * k + tap]));
            }
        }
        Ok(Self { patch: Pointwise::new("stem", &weight, bias)? })
    }

    /// `image` is `[3, side, side]`; writes `[out_side, out_side, outputs]` and returns `out_side`.
    fn run(&self, image: &[f32], side: usize, b: &mut Buffers) -> usize {
        let (k, plane) = (Self::KERNEL, side * side);
        let (out_side, pad) = same(side, k, Self::STRIDE);
        let pixels = out_side * out_side;
        let n = self.patch.inputs;
        b.patches.resize(pixels * n, 0.0);
        in_bands(&mut b.patches, band_units(pixels, 1) * n, |item, band| {
            for (o, patch) in (item / n..).zip(band.chunks_exact_mut(n)) {
                let (oy, ox) = (o / out_side, o % out_side);
                patch.fill(0.0);
                for ky in taps(oy, k, Self::STRIDE, pad, side) {
                    let iy = oy * Self::STRIDE + ky - pad;
                    for kx in taps(ox, k, Self::STRIDE, pad, side) {
                        let i = iy * side + ox * Self::STRIDE + kx - pad;
                        for (channel, v) in patch[(ky * k + kx) * 3..][..3].iter_mut().enumerate() {
                            *v = image[channel * plane + i];
                        }
                    }
                }
            }
        });
        self.patch.run(&b.patches, pixels, None, true, &mut b.current);
        out_side
    }
}

struct Block {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

/// Activations of one image, kept between frames (the four activation buffers sized for the largest layer when
/// the trunk is built, the rest on the first frame): the stem's patches, the block input and output (ping-pong),
/// the expanded and the depthwise activations, and the head's output.
#[derive(Default)]
struct Buffers {
    patches: Vec<f32>,
    current: Vec<f32>,
    next: Vec<f32>,
    expanded: Vec<f32>,
    depthwise: Vec<f32>,
    head: Vec<f32>,
}

/// EfficientNet-Lite0 features on the CPU from the trunk's parameters.
pub struct CpuEfficientNet {
    size: usize,
    stem: Stem,
    blocks: Vec<Block>,
    head: Pointwise,
    buffers: Mutex<Buffers>,
}

impl CpuEfficientNet {
    /// The trunk for `size × size` inputs from its parameters by path (as [`crate::efficientnet::EfficientNetLite0`]
    /// names them; a classifier, if present, is not used here).
    pub fn new(params: &HostParams, size: usize) -> Result<Self> {
        let stem = Stem::load(params, 32)?;
        let blocks = block_shapes()
            .into_iter()
            .enumerate()
            .map(|(n, (expansion, kernel, stride, input, output))| {
                let hidden = input * expansion;
                let path = format!("blocks.{n}");
                Ok(Block {
                    expand: (expansion != 1)
                        .then(|| Pointwise::load(params, &format!("{path}.expand"), input, hidden))
                        .transpose()?,
                    depthwise: Depthwise::load(params, &format!("{path}.depthwise"), hidden, kernel, stride)?,
                    project: Pointwise::load(params, &format!("{path}.project"), hidden, output)?,
                    residual: stride == 1 && input == output,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head = Pointwise::load(params, "head", 320, FEATURES)?;
        let mut trunk = Self { size, stem, blocks, head, buffers: Mutex::default() };
        let largest = trunk.largest_activation();
        let b = trunk.buffers.get_mut().unwrap_or_else(|e| e.into_inner());
        for buffer in [&mut b.current, &mut b.next, &mut b.expanded, &mut b.depthwise] {
            buffer.resize(largest, 0.0);
        }
        Ok(trunk)
    }

    /// `n` preprocessed images, channel-first (`n × 3·S·S`, as the preprocessor writes them) → `n × 1280`
    /// pooled features.
    pub fn features(&self, images: &[f32], n: usize) -> Vec<f32> {
        let s = self.size;
        assert_eq!(images.len(), n * 3 * s * s, "{n} images of 3×{s}×{s}");
        let mut guard = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let b = &mut *guard;
        let mut features = vec![0.0; n * FEATURES];
        for (image, out) in images.chunks_exact(3 * s * s).zip(features.chunks_exact_mut(FEATURES)) {
            with_pool_awake(|| self.forward(image, b, out));
        }
        features
    }

    /// One preprocessed image → its pooled features in `out`.
    fn forward(&self, image: &[f32], b: &mut Buffers, out: &mut [f32]) {
        let s = self.size;
        let mut side = self.stem.run(image, s, b);
        for block in &self.blocks {
            let pixels = side * side;
            let expanded = match &block.expand {
                Some(expand) => {
                    expand.run(&b.current, pixels, None, true, &mut b.expanded);
                    &b.expanded
                }
                None => &b.current,
            };
            side = block.depthwise.run(expanded, side, &mut b.depthwise);
            let residual = block.residual.then(|| &b.current[..side * side * block.project.outputs]);
            block.project.run(&b.depthwise, side * side, residual, false, &mut b.next);
            std::mem::swap(&mut b.current, &mut b.next);
        }
        let pixels = side * side;
        b.head.resize(pixels * FEATURES, 0.0);
        self.head.run(&b.current, pixels, None, true, &mut b.head);
        out.fill(0.0);
        for pixel in b.head.chunks_exact(FEATURES) {
            for (o, &v) in out.iter_mut().zip(pixel) {
                *o += v;
            }
        }
        out.iter_mut().for_each(|o| *o /= pixels as f32);
    }

    /// The largest activation of one image, in floats.
    fn largest_activation(&self) -> usize {
        let mut side = same(self.size, 3, 2).0;
        let mut largest = side * side * self.stem.patch.outputs;
        for block in &self.blocks {
            largest = largest.max(side * side * block.depthwise.channels);
            side = same(side, block.depthwise.kernel, block.depthwise.stride).0;
        }
        largest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::efficientnet::EfficientNetLite0;
    use crate::params;
    use burn::prelude::*;
    use burn::tensor::TensorData;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    /// Every parameter (biases too) drawn at random, so a misplaced bias or weight cannot hide.
    fn random_params(model: &EfficientNetLite0, seed: u64) -> HostParams {
        let mut rng = StdRng::seed_from_u64(seed);
        let exported = pollster::block_on(params::export(model)).unwrap();
        exported
            .into_iter()
            .map(|p| {
                let fan_in = if p.shape.len() == 4 { p.shape[1..].iter().product::<usize>() } else { 64 };
                let bound = (6.0 / fan_in as f32).sqrt();
                let values = p.values.iter().map(|_| rng.random_range(-bound..bound)).collect();
                (p.path, (p.shape, values))
            })
            .collect()
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        assert_eq!(same(224, 3, 2), (112, 0));
        assert_eq!(same(56, 5, 2), (28, 1));
        assert_eq!(same(14, 5, 1), (14, 2));
        assert_eq!(taps(0, 5, 1, 2, 14), 2..5);
        assert_eq!(taps(13, 5, 1, 2, 14), 0..3);
        assert_eq!(taps(111, 3, 2, 0, 224), 0..2);
    }

    #[test]
    fn features_match_burns_forward() {
        let device = Device::flex();
        let size = 56;
        let model = EfficientNetLite0::new(false, &device);
        let host = random_params(&model, 7);
        let model = params::import(model, &host, "test").unwrap();
        let trunk = CpuEfficientNet::new(&host, size).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let n = 2;
        let images: Vec<f32> = (0..n * 3 * size * size).map(|_| rng.random_range(-1.0..1.0)).collect();
        let expected = model
            .features(Tensor::from_data(TensorData::new(images.clone(), [n, 3, size, size]), &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for round in 0..2 {
            let got = trunk.features(&images, n);
            let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = got.iter().zip(&expected).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.1, "the random trunk gives features of size {scale}");
            assert!(worst <= 1e-4 * scale, "round {round}: features differ by {worst} (largest {scale})");
        }
    }

    /// Bands cut for three threads sum each output in the same order as one band: the same bits.
    #[cfg(feature = "threads")]
    #[test]
    fn features_do_not_depend_on_the_thread_count() {
        let size = 64;
        let trunk =
            CpuEfficientNet::new(&random_params(&EfficientNetLite0::new(false, &Device::flex()), 5), size).unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let images: Vec<f32> = (0..3 * size * size).map(|_| rng.random_range(-1.0..1.0)).collect();
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| (rayon::current_num_threads(), trunk.features(&images, 1)))
        };
        let (one, three) = (on(1), on(3));
        assert_eq!((one.0, three.0), (1, 3));
        assert!(one.1.iter().any(|&v| v != 0.0));
        assert_eq!(one.1, three.1);
    }

    #[test]
    fn a_missing_or_misshapen_tensor_is_named() {
        let model = EfficientNetLite0::new(false, &Device::flex());
        let mut host = random_params(&model, 1);
        host.get_mut("blocks.3.depthwise.bias").unwrap().0 = vec![7];
        let err = CpuEfficientNet::new(&host, 32).err().unwrap().to_string();
        assert!(err.contains("blocks.3.depthwise.bias") && err.contains("[7]"), "{err}");
        host.get_mut("blocks.3.depthwise.bias").unwrap().0 = vec![144];
        assert!(CpuEfficientNet::new(&host, 32).is_ok());
        host.remove("head.weight");
        let err = CpuEfficientNet::new(&host, 32).err().unwrap().to_string();
        assert!(err.contains("head.weight"), "{err}");
    }
}
