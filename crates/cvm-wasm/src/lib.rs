//! `cvm-wasm`: the browser façade over the `cvm` core — argument conversion, async device start-up, blob
//! fetching, frames from JS image sources, and JS errors. No learning logic lives here.
//!
//! Every method validates its input and returns a JS `Error` on failure; nothing reachable from JS panics.
//! The learner is used by one call at a time: a call made while another is still running (say `predict`
//! during `train`) is refused with an error rather than interleaved: each call holds the learner's `RefCell`
//! borrow across its awaits on purpose, so the borrow is the lock.
#![allow(clippy::await_holding_refcell_ref)]

pub mod error;
mod fetch;
mod frames;

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;
use std::sync::Arc;

use burn::tensor::Device;
use cvm::pretrained::Trunk;
use cvm::{ConceptSpace, LearnerConfig, StudentConfig};
use js_sys::{Function, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use error::{Error, Result};
use frames::Frames;

#[cfg(target_family = "wasm")]
unsafe extern "C" {
    /// The static constructors (burn's kernel registries use `inventory`), synthesised by the wasm linker.
    fn __wasm_call_ctors();
}

/// Runs the static constructors, once. Calling them explicitly also tells the linker not to call them again at
/// the top of every exported function (its "command-style" default), which cost each call into the module —
/// even a getter, even an awaited readback resuming — 0.1 to 5 ms. Called when the module starts and, for hosts
/// that do not run start functions (the test harness), before anything that needs them.
fn run_constructors() {
    #[cfg(target_family = "wasm")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: the linker's constructor function, run exactly once.
        ONCE.call_once(|| unsafe { __wasm_call_ctors() });
    }
}

#[wasm_bindgen(start)]
fn start() {
    run_constructors();
    console_error_panic_hook::set_once();
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** A concept or student blob: a URL to fetch, or its bytes. */
export type BlobSource = string | Uint8Array | ArrayBuffer;
/** Anything a frame can come from. Raw bytes are RGBA and need `width` and `height`. */
export type ImageSource = ImageData | ImageBitmap | HTMLVideoElement | HTMLCanvasElement | HTMLImageElement | OffscreenCanvas | VideoFrame | Uint8Array | Uint8ClampedArray;
export type Backend = "webgpu" | "cpu";
/** The `name` of every Error the package throws: the kind of failure (`"Error"` for those of no particular kind).
 * An `UnknownConceptError` also carries `suggestions`: vocabulary names close to the one given. */
export type ErrorName = "InvalidBlobError" | "NewerVersionError" | "UnknownConceptError" | "UnknownClassError" | "DuplicateClassError" | "InvalidArgumentError" | "InvalidImageError" | "NotReadyError" | "BackendError" | "BusyError" | "Error";
export interface LoadProgress { what: "concepts" | "student"; loaded: number; total: number | null }
export interface LearnerSettings {
  /** Logit scale of the cosine head (default 16). */ scale?: number;
  /** Weight of the pull onto a class's own anchor (default 1). */ mappingWeight?: number;
  learningRate?: number;
  /** Examples of the new class per step; as many again come from replay (default 32). */ batchSize?: number;
  /** Replay memory budget in examples (default 500). */ memory?: number;
  seed?: number;
  /** Share of a class's own examples that count as the class; a frame farther from them is "unknown" (default 0.95). */ acceptRate?: number;
  /** Start from what the student blob's ImageNet classifier knows, so names are recognised before their first example (default true with a student blob). */ conceptPrior?: boolean;
  /** Square input side of the from-scratch student, in pixels (default 32; a student blob sets its own). */ inputSize?: number;
}
export interface LearnerOptions {
  concepts: BlobSource;
  /** A student blob with a pretrained trunk (EfficientNet-Lite0); without it a small CNN learns from scratch. */
  student?: BlobSource;
  backend?: "auto" | Backend;
  settings?: LearnerSettings;
  onProgress?: (progress: LoadProgress) => void;
}
export interface TrainOptions {
  steps?: number;
  /** Steps between progress reports (default 5). */ reportEvery?: number;
  onProgress?: (report: TrainReport) => void;
}
export interface TrainReport { steps: number; losses: number[]; accuracy: number }
export interface ClassScore { label: string; score: number; similarity: number }
export interface Prediction {
  /** The best class (a guess when `unknown`). */ label: string;
  score: number;
  /** True when the frame lies farther from the best class's examples than they lie from each other: none of the taught classes. */ unknown: boolean;
  /** How close the frame lies to the best class's examples relative to their own spread, or (with the grounded prior) how much better the class's name fits it than any unclaimed concept, whichever is higher: ≥ 0 is known; null when neither can be judged. */ openSetScore: number | null;
  /** Every known class, best first. */ scores: ClassScore[];
}
export interface ConceptMatch { label: string; similarity: number }
/** One pass over a frame: the prediction (null before the first class) and what the frame looks like. */
export interface Recognition { prediction: Prediction | null; looksLike: ConceptMatch[] }
export interface ClassInfo { label: string; examples: number }
export interface MapPoint { x: number; y: number; kind: "anchor" | "concept" | "sample"; label: string }
"#;

/// The settings of [`LearnerOptions`] (everything optional), and what [`Learner::settings`] returns (everything
/// given).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    scale: Option<f32>,
    mapping_weight: Option<f32>,
    learning_rate: Option<f64>,
    batch_size: Option<usize>,
    memory: Option<usize>,
    seed: Option<u64>,
    accept_rate: Option<f32>,
    concept_prior: Option<bool>,
    input_size: Option<usize>,
}

impl Settings {
    const KEYS: &[&str] = &[
        "scale",
        "mappingWeight",
        "learningRate",
        "batchSize",
        "memory",
        "seed",
        "acceptRate",
        "conceptPrior",
        "inputSize",
    ];

    /// `options.settings` (see [`Settings::from_js`]).
    fn from_options(options: &JsValue) -> Result<Self> {
        Self::from_js(&get(options, "settings"))
    }

    /// A settings object, checked key by key (an error names the setting): undefined or null is no settings.
    fn from_js(settings: &JsValue) -> Result<Self> {
        if settings.is_undefined() || settings.is_null() {
            return Ok(Self::default());
        }
        check_keys(settings, "settings", Self::KEYS)?;
        let real = |key: &str| -> Result<Option<f64>> {
            match get(settings, key) {
                v if v.is_undefined() => Ok(None),
                v => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| Error::msg(format!("settings.{key} must be a number, not {}", kind(&v)))),
            }
        };
        let whole = |key: &str| -> Result<Option<usize>> {
            match real(key)? {
                Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= 2f64.powi(53) => Ok(Some(x as usize)),
                Some(x) => Err(Error::msg(format!("settings.{key} must be a whole number ≥ 0, not {x}"))),
                None => Ok(None),
            }
        };
        let concept_prior =
            match get(settings, "conceptPrior") {
                v if v.is_undefined() => None,
                v => Some(v.as_bool().ok_or_else(|| {
                    Error::msg(format!("settings.conceptPrior must be true or false, not {}", kind(&v)))
                })?),
            };
        Ok(Self {
            scale: real("scale")?.map(|x| x as f32),
            mapping_weight: real("mappingWeight")?.map(|x| x as f32),
            learning_rate: real("learningRate")?,
            batch_size: whole("batchSize")?,
            memory: whole("memory")?,
            seed: whole("seed")?.map(|x| x as u64),
            accept_rate: real("acceptRate")?.map(|x| x as f32),
            concept_prior,
            input_size: whole("inputSize")?,
        })
    }

    /// Every setting of `config`.
    fn of(config: &LearnerConfig) -> Self {
        Self {
            scale: Some(config.objective.scale),
            mapping_weight: Some(config.objective.mapping_weight),
            learning_rate: Some(config.learning_rate),
            batch_size: Some(config.batch_size),
            memory: Some(config.memory),
            seed: Some(config.seed),
            accept_rate: Some(config.accept_rate),
            concept_prior: Some(config.concept_prior),
            input_size: Some(config.student.input().size),
        }
    }

    /// The config of a new learner: the adapter over `trunk` if there is one, else the tiny CNN.
    fn config(self, trunk: Option<&Trunk>) -> LearnerConfig {
        let student = match trunk {
            Some(t) => StudentConfig::adapter(t.input(), cvm::trunk::FEATURES),
            None => StudentConfig::tiny_cnn(3, self.input_size.unwrap_or(32)),
        };
        self.over(LearnerConfig::new(student))
    }

    /// Puts the settings given here over those of an existing `learner` (one whose input size they cannot change).
    fn onto(self, learner: &mut cvm::Learner) -> Result<()> {
        let side = learner.config().student.input().size;
        if self.input_size.is_some_and(|size| size != side) {
            return Err(Error::msg(format!(
                "settings.inputSize cannot change for an existing learner: it takes {side}×{side} frames"
            )));
        }
        let config = self.over(learner.config().clone());
        Ok(learner.reconfigure(config)?)
    }

    /// `base` with the settings given here put over it (the input size is the student's: see `config`).
    fn over(self, base: LearnerConfig) -> LearnerConfig {
        let objective = cvm::objective::Objective {
            scale: self.scale.unwrap_or(base.objective.scale),
            mapping_weight: self.mapping_weight.unwrap_or(base.objective.mapping_weight),
            ..base.objective
        };
        LearnerConfig {
            objective,
            learning_rate: self.learning_rate.unwrap_or(base.learning_rate),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            memory: self.memory.unwrap_or(base.memory),
            seed: self.seed.unwrap_or(base.seed),
            accept_rate: self.accept_rate.unwrap_or(base.accept_rate),
            concept_prior: self.concept_prior.unwrap_or(base.concept_prior),
            ..base
        }
    }
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// WebGPU can be initialised once per page; later learners share the device.
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// The page's WebGPU device (without autodiff), started on first use.
#[cfg(feature = "webgpu")]
pub async fn webgpu_device() -> Result<Device> {
    run_constructors();
    if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    if !webgpu_reachable() {
        return Err(Error::msg(NO_WEBGPU_HERE));
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| Error::msg(format!("WebGPU is not available here: {e}")))?;
    WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// Without the `webgpu` feature (a CPU-only build) there is no WebGPU device to start.
#[cfg(not(feature = "webgpu"))]
pub async fn webgpu_device() -> Result<Device> {
    Err(Error::msg(if webgpu_reachable() {
        "this build of the package runs on the CPU only: it has no WebGPU backend"
    } else {
        NO_WEBGPU_HERE
    }))
}

/// Why WebGPU cannot be used where [`webgpu_reachable`] is false.
const NO_WEBGPU_HERE: &str =
    "WebGPU is not available here: this context has no navigator.gpu, or is neither a window nor a dedicated worker";

/// Whether wgpu can reach WebGPU from here: it does so only from a window or a dedicated worker (anywhere else,
/// a shared or service worker or Node, it panics), and only where the browser exposes `navigator.gpu`.
fn webgpu_reachable() -> bool {
    let global = js_sys::global();
    let scope =
        global.is_instance_of::<web_sys::Window>() || global.is_instance_of::<web_sys::DedicatedWorkerGlobalScope>();
    scope && !get(&get(&global, "navigator"), "gpu").is_undefined()
}

/// Which backend a preference leads to here, and why, without starting it. `auto` takes WebGPU on a hardware
/// adapter and the CPU otherwise: with no WebGPU, and with a software adapter (SwiftShader, llvmpipe, WARP), which
/// emulates the GPU on the CPU and runs the trunk some 40× slower than the CPU backend (README, browser
/// benchmark). A timed trial of both at start-up would cost seconds of shader compilation on a real GPU and
/// seconds a frame on an emulated one, so the adapter's own description decides.
async fn choose(preference: &str) -> Result<(&'static str, String)> {
    Ok(match preference {
        "cpu" => ("cpu", "the CPU was asked for".into()),
        "webgpu" => ("webgpu", "WebGPU was asked for".into()),
        "auto" => match adapter().await {
            Adapter::Hardware => ("webgpu", "WebGPU has a hardware adapter here".into()),
            Adapter::Software(description) => {
                ("cpu", format!("WebGPU here is a software renderer ({description}), slower than the CPU"))
            }
            Adapter::Missing(why) => ("cpu", why),
        },
        other => return Err(Error::msg(format!("backend must be \"auto\", \"webgpu\" or \"cpu\", not \"{other}\""))),
    })
}

/// The device for a backend preference (see [`choose`]), with autodiff on, the backend's name and why it runs.
async fn device(preference: &str) -> Result<(Device, &'static str, String)> {
    let cpu = || Device::flex().autodiff();
    match choose(preference).await? {
        ("webgpu", reason) => match webgpu_device().await {
            Ok(device) => Ok((device.autodiff(), "webgpu", reason)),
            Err(e) if preference == "auto" => Ok((cpu(), "cpu", e.to_string())),
            Err(e) => Err(e),
        },
        (_, reason) => Ok((cpu(), "cpu", reason)),
    }
}

/// What the browser offers for WebGPU.
enum Adapter {
    Hardware,
    /// A software renderer, with its description.
    Software(String),
    /// No adapter, and why.
    Missing(String),
}

async fn adapter() -> Adapter {
    let missing = |why: &str| Adapter::Missing(format!("WebGPU is not available here: {why}"));
    if !webgpu_reachable() {
        return Adapter::Missing(NO_WEBGPU_HERE.into());
    }
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    let requested = match get(&gpu, "requestAdapter").dyn_into::<Function>().and_then(|f| f.call0(&gpu)) {
        Ok(promise) => wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&promise)).await,
        Err(e) => Err(e),
    };
    let adapter = match requested {
        Ok(adapter) if adapter.is_object() => adapter,
        _ => return missing("the browser gives no adapter"),
    };
    let info = get(&adapter, "info");
    let text = |key: &str| get(&info, key).as_string().unwrap_or_default();
    let described = ["vendor", "architecture", "device", "description"].map(text).join(" ");
    let described = described.split_whitespace().collect::<Vec<_>>().join(" ");
    let fallback = get(&info, "isFallbackAdapter").as_bool() == Some(true)
        || get(&adapter, "isFallbackAdapter").as_bool() == Some(true);
    let software = ["swiftshader", "llvmpipe", "lavapipe", "softpipe", "warp", "basic render"]
        .iter()
        .any(|name| described.to_lowercase().contains(name));
    if fallback || software { Adapter::Software(described) } else { Adapter::Hardware }
}

/// Which backend `Learner.create({ backend })` would run on here, and why, without starting it: a page can load
/// the package's CPU-only build when WebGPU will not be used.
#[wasm_bindgen(js_name = preferredBackend, unchecked_return_type = "{ backend: Backend; reason: string }")]
pub async fn preferred_backend(
    #[wasm_bindgen(unchecked_param_type = "\"auto\" | Backend")] preference: JsValue,
) -> Result<JsValue> {
    run_constructors();
    let preference = if preference.is_undefined() { "auto".into() } else { string(&preference, "backend")? };
    let (backend, reason) = choose(&preference).await?;
    let object = js_sys::Object::new();
    for (key, value) in [("backend", backend.to_string()), ("reason", reason)] {
        Reflect::set(&object, &key.into(), &value.into()).map_err(Error::js)?;
    }
    Ok(object.into())
}

fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Resolves on the event loop's next task (`setTimeout(0)`), after whatever is queued before it.
async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(set_timeout) = Reflect::get(&global, &"setTimeout".into()).and_then(|f| f.dyn_into::<Function>()) {
            let _ = set_timeout.call2(&global, &resolve, &0.into());
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// What a JS value is, for messages.
fn kind(value: &JsValue) -> String {
    if value.is_null() {
        "null".into()
    } else if js_sys::Array::is_array(value) {
        "an array".into()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// Refuses anything but a plain object whose keys are all `known` (a typo names the closest known key).
fn check_keys(object: &JsValue, what: &str, known: &[&str]) -> Result<()> {
    if !object.is_object() || js_sys::Array::is_array(object) || object.is_function() {
        return Err(Error::msg(format!("{what} must be an object, not {}", kind(object))));
    }
    for key in js_sys::Object::keys(object.unchecked_ref::<js_sys::Object>()).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            let closest = known.iter().min_by_key(|k| strsim::levenshtein(k, &key)).expect("a known key");
            return Err(Error::msg(format!(
                "{what} has no `{key}` (did you mean `{closest}`?); it takes {}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// An optional number option: `None` when absent, an error when present but not a number.
fn number(object: &JsValue, key: &str) -> Result<Option<f64>> {
    match get(object, key) {
        v if v.is_undefined() => Ok(None),
        v => v.as_f64().map(Some).ok_or_else(|| Error::msg(format!("{key} must be a number, not {}", kind(&v)))),
    }
}

/// A string argument, or an error naming it.
fn string(value: &JsValue, what: &str) -> Result<String> {
    value.as_string().ok_or_else(|| Error::msg(format!("{what} must be a string, not {}", kind(value))))
}

fn callback(object: &JsValue, key: &str) -> Result<Option<Function>> {
    let value = get(object, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.dyn_into::<Function>().map(Some).map_err(|_| Error::msg(format!("{key} must be a function")))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::msg(format!("cannot hand a result to JavaScript: {e}")))
}

/// What `create` and `load` share: the concept space, the backend and the optional pretrained trunk.
struct Opened {
    concepts: Arc<ConceptSpace>,
    device: Device,
    backend: &'static str,
    backend_reason: String,
    trunk: Option<Trunk>,
}

async fn open(options: &JsValue) -> Result<Opened> {
    run_constructors();
    check_keys(options, "the learner's options", &["concepts", "student", "backend", "settings", "onProgress"])?;
    let on_progress = callback(options, "onProgress")?;
    let source = get(options, "concepts");
    if source.is_undefined() {
        return Err(Error::msg("options.concepts is required: the URL or bytes of a concept blob"));
    }
    let bytes = fetch::load(&source, "concepts", on_progress.as_ref()).await?;
    let concepts = Arc::new(ConceptSpace::from_bytes(&bytes)?);
    let preference = match get(options, "backend") {
        v if v.is_undefined() => "auto".into(),
        v => string(&v, "backend")?,
    };
    let (device, backend, backend_reason) = device(&preference).await?;
    let student = get(options, "student");
    let trunk = if student.is_undefined() || student.is_null() {
        None
    } else {
        Some(Trunk::from_bytes(&fetch::load(&student, "student", on_progress.as_ref()).await?, &device)?)
    };
    Ok(Opened { concepts, device, backend, backend_reason, trunk })
}

struct Inner {
    learner: cvm::Learner,
    frames: Frames,
}

/// A continual visual learner: classes taught one after another, recognised without forgetting.
#[wasm_bindgen]
pub struct Learner {
    inner: Rc<RefCell<Inner>>,
    backend: &'static str,
    backend_reason: String,
    stop: Rc<Cell<bool>>,
    /// Input side of the student (fixed for the learner's life).
    side: u32,
}

fn busy() -> Error {
    Error::busy("the learner is busy with another call (train, predict, save): await it before calling again")
}

impl Learner {
    fn wrap(learner: cvm::Learner, backend: &'static str, backend_reason: String) -> Self {
        let side = learner.config().student.input().size as u32;
        Self {
            inner: Rc::new(RefCell::new(Inner { learner, frames: Frames::default() })),
            backend,
            backend_reason,
            stop: Rc::new(Cell::new(false)),
            side,
        }
    }

    fn borrow(&self) -> Result<RefMut<'_, Inner>> {
        self.inner.try_borrow_mut().map_err(|_| busy())
    }

    fn class_by_label(learner: &cvm::Learner, label: &JsValue) -> Result<usize> {
        match (label.as_string(), label.as_f64()) {
            (Some(name), _) => Ok(learner.class_index(&name)?),
            (_, Some(i)) if i >= 0.0 && i.fract() == 0.0 && (i as usize) < learner.classes().len() => Ok(i as usize),
            _ => Err(Error::msg("class must be a class name or index")),
        }
    }
}

#[derive(Serialize)]
struct ClassScore<'a> {
    label: &'a str,
    score: f32,
    similarity: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PredictionJs<'a> {
    label: &'a str,
    score: f32,
    unknown: bool,
    open_set_score: Option<f32>,
    scores: Vec<ClassScore<'a>>,
}

impl<'a> PredictionJs<'a> {
    fn new(classes: &'a [cvm::Class], prediction: &cvm::Prediction) -> Self {
        let mut scores: Vec<ClassScore> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassScore {
                label: &c.key,
                score: prediction.probabilities[i],
                similarity: prediction.similarities[i],
            })
            .collect();
        scores.sort_by(|a, b| b.score.total_cmp(&a.score));
        let (label, score) = (scores[0].label, scores[0].score);
        Self { label, score, unknown: prediction.class.is_none(), open_set_score: prediction.open_set_score, scores }
    }
}

#[derive(Serialize)]
struct ConceptMatch<'a> {
    label: &'a str,
    similarity: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecognitionJs<'a> {
    prediction: Option<PredictionJs<'a>>,
    looks_like: Vec<ConceptMatch<'a>>,
}

impl Learner {
    /// One pass over a frame (see `recognise`), converted for JS: all of it, or only the ranking.
    async fn recognition(
        &self,
        image: &JsValue,
        k: usize,
        width: Option<u32>,
        height: Option<u32>,
        only_ranking: bool,
    ) -> Result<JsValue> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let inner = &mut *inner;
        let view = inner.frames.view(image, width, height)?;
        let recognition = inner.learner.recognise(view, k).await?;
        let (classes, concepts) = (inner.learner.classes(), inner.learner.concepts());
        let looks_like: Vec<ConceptMatch> = recognition
            .looks_like
            .iter()
            .map(|&(i, similarity)| ConceptMatch { label: concepts.name(i), similarity })
            .collect();
        match only_ranking {
            true => to_js(&looks_like),
            false => to_js(&RecognitionJs {
                prediction: recognition.prediction.as_ref().map(|p| PredictionJs::new(classes, p)),
                looks_like,
            }),
        }
    }
}

#[wasm_bindgen]
impl Learner {
    /// Loads the concept blob, starts the backend (`auto`: WebGPU if the browser has it, else the CPU) and
    /// returns a learner with no classes yet.
    #[wasm_bindgen(unchecked_return_type = "Learner")]
    pub async fn create(#[wasm_bindgen(unchecked_param_type = "LearnerOptions")] options: JsValue) -> Result<Learner> {
        let o = open(&options).await?;
        let config = Settings::from_options(&options)?.config(o.trunk.as_ref());
        let learner = match o.trunk {
            Some(trunk) => cvm::Learner::with_trunk(config, o.concepts, trunk, o.device)?,
            None => cvm::Learner::new(config, o.concepts, o.device)?,
        };
        Ok(Self::wrap(learner, o.backend, o.backend_reason))
    }

    /// Restores a learner from [`Learner::save`] bytes; `options` names the same concept blob and student, a
    /// backend, and settings that replace the saved ones (all but `inputSize` and `conceptPrior`, which the
    /// saved learner's parameters fix).
    #[wasm_bindgen(unchecked_return_type = "Learner")]
    pub async fn load(
        bytes: &[u8],
        #[wasm_bindgen(unchecked_param_type = "LearnerOptions")] options: JsValue,
    ) -> Result<Learner> {
        // A file that is no snapshot, or settings that are no settings, are refused before the blobs are fetched.
        cvm::Learner::unseal(bytes)?;
        let settings = Settings::from_options(&options)?;
        let o = open(&options).await?;
        let mut learner = cvm::Learner::restore(bytes, o.concepts, o.trunk, o.device)?;
        settings.onto(&mut learner)?;
        Ok(Self::wrap(learner, o.backend, o.backend_reason))
    }

    /// The settings the learner runs with (every one of them; after `load`, the saved ones with those given).
    #[wasm_bindgen(unchecked_return_type = "Required<LearnerSettings>")]
    pub fn settings(&self) -> Result<JsValue> {
        to_js(&Settings::of(self.borrow()?.learner.config()))
    }

    /// The backend that runs: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Backend")]
    pub fn backend(&self) -> String {
        self.backend.into()
    }

    /// Why this backend runs, in words a page can show: asked for, no WebGPU here (and why), a software WebGPU
    /// adapter (slower than the CPU), or a hardware one.
    #[wasm_bindgen(getter, js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.backend_reason.clone()
    }

    /// Side in pixels of the square the learner crops and scales every frame to (224 with the EfficientNet
    /// student). Frames are best passed whole: the learner's own preprocessing is the one that training and the
    /// benchmarks use.
    #[wasm_bindgen(getter, js_name = inputSize)]
    pub fn input_size(&self) -> u32 {
        self.side
    }

    /// Known classes with their stored example counts (replay memory plus not yet trained).
    #[wasm_bindgen(unchecked_return_type = "ClassInfo[]")]
    pub fn classes(&self) -> Result<JsValue> {
        let inner = self.borrow()?;
        let memory = inner.learner.memory().class_counts();
        let pending = inner.learner.pending_counts();
        #[derive(Serialize)]
        struct Info<'a> {
            label: &'a str,
            examples: usize,
        }
        let list: Vec<Info> = inner
            .learner
            .classes()
            .iter()
            .enumerate()
            .map(|(i, c)| Info { label: &c.key, examples: memory.get(i).copied().unwrap_or(0) + pending[i] })
            .collect();
        to_js(&list)
    }

    /// Vocabulary names closest in spelling to `text` (autocomplete, suggestions).
    pub fn suggest(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
        k: usize,
    ) -> Result<Vec<String>> {
        let text = string(&text, "the text to complete")?;
        Ok(self.borrow()?.learner.concepts().suggest(&text, k.min(50)))
    }

    /// Every concept name of the vocabulary.
    pub fn vocabulary(&self) -> Result<Vec<String>> {
        Ok(self.borrow()?.learner.concepts().names().to_vec())
    }

    /// Adds a class named after a vocabulary concept; an unknown name errs with suggestions.
    #[wasm_bindgen(js_name = addClass)]
    pub fn add_class(&self, #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue) -> Result<usize> {
        let name = string(&name, "a class name")?;
        Ok(self.borrow()?.learner.add_class(&name)?)
    }

    /// Removes a class and its examples.
    #[wasm_bindgen(js_name = removeClass)]
    pub fn remove_class(&self, #[wasm_bindgen(unchecked_param_type = "string | number")] label: JsValue) -> Result<()> {
        let mut inner = self.borrow()?;
        let index = Self::class_by_label(&inner.learner, &label)?;
        Ok(inner.learner.remove_class(index)?)
    }

    /// Stores one example of a class for the next `train` (with a pretrained student, its trunk features);
    /// resolves with the example's id, for `removeExample`.
    #[wasm_bindgen(js_name = addExample)]
    pub async fn add_example(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | number")] label: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] image: JsValue,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<u32> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let index = Self::class_by_label(&inner.learner, &label)?;
        let inner = &mut *inner;
        let view = inner.frames.view(&image, width, height)?;
        Ok(inner.learner.add_example(index, view).await?)
    }

    /// Takes one example back out (it is never trained on or replayed again); `false` if the learner no longer
    /// held it. What training already learnt from it fades with later training.
    #[wasm_bindgen(js_name = removeExample)]
    pub fn remove_example(&self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<bool> {
        let id =
            id.as_f64().filter(|id| *id >= 0.0 && *id <= u32::MAX as f64 && id.fract() == 0.0).ok_or_else(|| {
                Error::msg(format!(
                    "an example id is a whole number from addExample, not {}",
                    id.as_f64().map_or_else(|| kind(&id), |v| v.to_string())
                ))
            })?;
        Ok(self.borrow()?.learner.remove_example(id as u32))
    }

    /// Ids of the examples of a class the learner holds (not yet trained on, or kept in its replay memory).
    #[wasm_bindgen(unchecked_return_type = "number[]")]
    pub fn examples(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | number")] label: JsValue,
    ) -> Result<JsValue> {
        let inner = self.borrow()?;
        let index = Self::class_by_label(&inner.learner, &label)?;
        to_js(&inner.learner.example_ids(index))
    }

    /// Trains on the new examples plus replay; resolves with the losses and batch accuracy.
    #[wasm_bindgen(unchecked_return_type = "TrainReport")]
    pub async fn train(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainOptions")] options: Option<JsValue>,
    ) -> Result<JsValue> {
        let options =
            options.filter(|o| !o.is_undefined() && !o.is_null()).unwrap_or_else(|| js_sys::Object::new().into());
        check_keys(&options, "train options", &["steps", "reportEvery", "onProgress"])?;
        let steps = number(&options, "steps")?.unwrap_or(50.0);
        let every = number(&options, "reportEvery")?.unwrap_or(5.0);
        if !(steps >= 0.0 && steps.fract() == 0.0 && every >= 1.0 && every.fract() == 0.0) {
            return Err(Error::msg("steps must be a whole number ≥ 0 and reportEvery a whole number ≥ 1"));
        }
        let on_progress = callback(&options, "onProgress")?;
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        // A stop asked for before this call started is kept: it ends this training at its first report.
        let stop = self.stop.clone();
        let report = inner
            .learner
            .train_with_progress(steps as usize, every as usize, |r| {
                if let (Some(f), Ok(value)) = (&on_progress, to_js(r)) {
                    let _ = f.call1(&JsValue::NULL, &value);
                }
                let stop = stop.clone();
                async move {
                    // On the CPU nothing else would run until training ends: let timers, clicks and worker
                    // messages (a Stop) in between reports.
                    next_task().await;
                    !stop.get()
                }
            })
            .await;
        stop.set(false);
        to_js(&report?)
    }

    /// Asks a running `train` (or the next one, if none runs) to stop after its current report.
    #[wasm_bindgen(js_name = stopTraining)]
    pub fn stop_training(&self) {
        self.stop.set(true);
    }

    /// Scores a frame against the known classes.
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub async fn predict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] image: JsValue,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<JsValue> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let inner = &mut *inner;
        let view = inner.frames.view(&image, width, height)?;
        let prediction = inner.learner.predict(view).await?;
        to_js(&PredictionJs::new(inner.learner.classes(), &prediction))
    }

    /// The `k` vocabulary concepts the frame looks most like ("looks like …").
    #[wasm_bindgen(js_name = rankVocabulary, unchecked_return_type = "ConceptMatch[]")]
    pub async fn rank_vocabulary(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] image: JsValue,
        k: usize,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<JsValue> {
        self.recognition(&image, k.clamp(1, 100), width, height, true).await
    }

    /// Everything a live view shows, from one pass over the frame: the prediction among the classes (`null`
    /// before the first class) and the `k` concepts it looks most like (none when `k` is 0).
    #[wasm_bindgen(unchecked_return_type = "Recognition")]
    pub async fn recognise(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] image: JsValue,
        k: usize,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<JsValue> {
        self.recognition(&image, k.min(100), width, height, false).await
    }

    /// What the learner stores of a frame (with a pretrained student, its trunk features), for `classAccuracy`
    /// and `conceptMap`: the frame's expensive part is done once, however often it is measured again.
    #[wasm_bindgen(unchecked_return_type = "Float32Array")]
    pub async fn encode(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource")] image: JsValue,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<Vec<f32>> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let inner = &mut *inner;
        let view = inner.frames.view(&image, width, height)?;
        Ok(inner.learner.encode(&[view]).await?)
    }

    /// Per class, the share of the encoded frames given as that class that the learner calls it (its best
    /// guess), in one batched pass: `{ label: fraction }` for every class with frames. `samples` are `encode`
    /// results laid end to end; `labels` name one class per frame.
    #[wasm_bindgen(js_name = classAccuracy, unchecked_return_type = "Record<string, number>")]
    pub async fn class_accuracy(
        &self,
        samples: &[f32],
        #[wasm_bindgen(unchecked_param_type = "(string | number)[]")] labels: Vec<JsValue>,
    ) -> Result<JsValue> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let indices = labels.iter().map(|l| Self::class_by_label(&inner.learner, l)).collect::<Result<Vec<_>>>()?;
        let accuracy = inner.learner.class_accuracy(samples, &indices).await?;
        let result = js_sys::Object::new();
        for (class, value) in inner.learner.classes().iter().zip(accuracy) {
            if let Some(value) = value {
                Reflect::set(&result, &class.key.as_str().into(), &value.into())
                    .map_err(|_| Error::msg("could not build the result"))?;
            }
        }
        Ok(result.into())
    }

    /// A 2-D map of the concept space: class anchors, `neighbours` nearby vocabulary concepts each, and the
    /// embeddings of some frames (labelled with `labels`): images, or `encode` results laid end to end.
    #[wasm_bindgen(js_name = conceptMap, unchecked_return_type = "MapPoint[]")]
    pub async fn concept_map(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageSource[] | Float32Array")] frames: JsValue,
        labels: Vec<String>,
        neighbours: usize,
    ) -> Result<JsValue> {
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        let inner = &mut *inner;
        let samples = if let Some(samples) = frames.dyn_ref::<js_sys::Float32Array>() {
            samples.to_vec()
        } else if js_sys::Array::is_array(&frames) {
            let images = js_sys::Array::from(&frames);
            if images.length() > 256 {
                return Err(Error::msg("at most 256 images per concept map"));
            }
            let mut samples = Vec::new();
            for image in images.iter() {
                let view = inner.frames.view(&image, None, None)?;
                samples.extend(inner.learner.encode(&[view]).await?);
            }
            samples
        } else {
            return Err(Error::msg(format!(
                "the frames of a concept map are an array of images or a Float32Array of encoded frames, not {}",
                kind(&frames)
            )));
        };
        to_js(&inner.learner.concept_map(&samples, &labels, neighbours).await?)
    }

    /// Changes settings between trainings: those given replace the current ones (a smaller `memory` lets go of
    /// examples of the largest classes first); `inputSize` and `conceptPrior` are fixed for a learner's life. A
    /// setting that is refused changes nothing.
    pub fn configure(&self, #[wasm_bindgen(unchecked_param_type = "LearnerSettings")] settings: JsValue) -> Result<()> {
        let settings = Settings::from_js(&settings)?;
        settings.onto(&mut self.borrow()?.learner)
    }

    /// Changes the share of each class's own examples that count as the class (see `acceptRate`).
    #[wasm_bindgen(js_name = setAcceptRate)]
    pub fn set_accept_rate(&self, rate: f32) -> Result<()> {
        Ok(self.borrow()?.learner.set_accept_rate(rate)?)
    }

    /// The whole state (model, classes, replay memory) as one checksummed blob, for IndexedDB or a file.
    pub async fn save(&self) -> Result<Vec<u8>> {
        let inner = self.inner.clone();
        let inner = inner.try_borrow().map_err(|_| busy())?;
        Ok(inner.learner.snapshot().await?)
    }

    /// Releases the learner's memory; the object is unusable afterwards.
    pub fn dispose(self) {}
}
