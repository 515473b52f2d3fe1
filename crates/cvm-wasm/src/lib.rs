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
pub mod shapes;

/// `initThreadPool(n)`: starts `n` workers sharing the module's memory, on which the CPU trunk's convolutions
/// then run (the `threads` build only; resolves once they are ready).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;
use std::sync::Arc;

use burn::tensor::Device;
use cvm::ConceptSpace;
use cvm::trunk::Trunk;
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;

use error::{Error, Result};
use frames::Frames;
use shapes::{
    Backend, BackendChoice, ClassInfo, ConceptMatch, LearnerOptions, LearnerSettings, MapPoint, Prediction,
    Recognition, TrainOptions, TrainReport, get, kind, string, to_js,
};

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
async fn choose(preference: &str) -> Result<BackendChoice> {
    let (backend, reason) = match preference {
        "cpu" => (Backend::Cpu, "the CPU was asked for".into()),
        "webgpu" => (Backend::Webgpu, "WebGPU was asked for".into()),
        "auto" => match adapter().await {
            Adapter::Hardware => (Backend::Webgpu, "WebGPU has a hardware adapter here".into()),
            Adapter::Software(description) => {
                (Backend::Cpu, format!("WebGPU here is a software renderer ({description}), slower than the CPU"))
            }
            Adapter::Missing(why) => (Backend::Cpu, why),
        },
        other => return Err(Error::msg(format!("backend must be \"auto\", \"webgpu\" or \"cpu\", not \"{other}\""))),
    };
    Ok(BackendChoice { backend, reason })
}

/// The device for a backend preference (see [`choose`]), with autodiff on, the backend that runs and why.
async fn device(preference: &str) -> Result<(Device, BackendChoice)> {
    let cpu = |reason| (Device::flex().autodiff(), BackendChoice { backend: Backend::Cpu, reason });
    let choice = choose(preference).await?;
    match choice.backend {
        Backend::Webgpu => match webgpu_device().await {
            Ok(device) => Ok((device.autodiff(), choice)),
            Err(e) if preference == "auto" => Ok(cpu(e.to_string())),
            Err(e) => Err(e),
        },
        Backend::Cpu => Ok(cpu(choice.reason)),
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
#[wasm_bindgen(js_name = preferredBackend, unchecked_return_type = "BackendChoice")]
pub async fn preferred_backend(
    #[wasm_bindgen(unchecked_param_type = "\"auto\" | Backend")] preference: JsValue,
) -> Result<JsValue> {
    run_constructors();
    let preference = if preference.is_undefined() { "auto".into() } else { string(&preference, "backend")? };
    to_js(&choose(&preference).await?)
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

/// What `create` and `load` share: the concept space, the backend and the optional pretrained trunk.
struct Opened {
    concepts: Arc<ConceptSpace>,
    device: Device,
    backend: BackendChoice,
    trunk: Option<Trunk>,
}

async fn open(options: &LearnerOptions) -> Result<Opened> {
    run_constructors();
    let on_progress = options.on_progress.as_ref();
    let bytes = fetch::load(&options.concepts, "concepts", on_progress).await?;
    let concepts = Arc::new(ConceptSpace::from_bytes(&bytes)?);
    let (device, backend) = device(options.backend.as_deref().unwrap_or("auto")).await?;
    let trunk = match &options.student {
        Some(student) => Some(Trunk::from_bytes(&fetch::load(student, "student", on_progress).await?, &device)?),
        None => None,
    };
    Ok(Opened { concepts, device, backend, trunk })
}

struct Inner {
    learner: cvm::Learner,
    frames: Frames,
}

/// A continual visual learner: classes taught one after another, recognised without forgetting.
#[wasm_bindgen]
pub struct Learner {
    inner: Rc<RefCell<Inner>>,
    backend: BackendChoice,
    stop: Rc<Cell<bool>>,
    /// Input side of the student (fixed for the learner's life).
    side: u32,
}

fn busy() -> Error {
    Error::busy("the learner is busy with another call (train, predict, save): await it before calling again")
}

impl Learner {
    fn wrap(learner: cvm::Learner, backend: BackendChoice) -> Self {
        let side = learner.config().student.input().size as u32;
        Self {
            inner: Rc::new(RefCell::new(Inner { learner, frames: Frames::default() })),
            backend,
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
            false => to_js(&Recognition {
                prediction: recognition.prediction.as_ref().map(|p| Prediction::new(classes, p)),
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
        let options = LearnerOptions::read(&options)?;
        let o = open(&options).await?;
        let config = options.settings.config(o.trunk.as_ref());
        let learner = match o.trunk {
            Some(trunk) => cvm::Learner::with_trunk(config, o.concepts, trunk, o.device)?,
            None => cvm::Learner::new(config, o.concepts, o.device)?,
        };
        Ok(Self::wrap(learner, o.backend))
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
        let options = LearnerOptions::read(&options)?;
        let o = open(&options).await?;
        let mut learner = cvm::Learner::restore(bytes, o.concepts, o.trunk, o.device)?;
        options.settings.onto(&mut learner)?;
        Ok(Self::wrap(learner, o.backend))
    }

    /// The settings the learner runs with (every one of them; after `load`, the saved ones with those given).
    #[wasm_bindgen(unchecked_return_type = "Required<LearnerSettings>")]
    pub fn settings(&self) -> Result<JsValue> {
        to_js(&LearnerSettings::of(self.borrow()?.learner.config()))
    }

    /// The backend that runs: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Backend")]
    pub fn backend(&self) -> String {
        self.backend.backend.as_str().into()
    }

    /// Why this backend runs, in words a page can show: asked for, no WebGPU here (and why), a software WebGPU
    /// adapter (slower than the CPU), or a hardware one.
    #[wasm_bindgen(getter, js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.backend.reason.clone()
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
        let list: Vec<ClassInfo> = inner
            .learner
            .classes()
            .iter()
            .enumerate()
            .map(|(i, c)| ClassInfo { label: &c.key, examples: memory.get(i).copied().unwrap_or(0) + pending[i] })
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
        let TrainOptions { steps, report_every, on_progress } = TrainOptions::read(options)?;
        let inner = self.inner.clone();
        let mut inner = inner.try_borrow_mut().map_err(|_| busy())?;
        // A stop asked for before this call started is kept: it ends this training at its first report.
        let stop = self.stop.clone();
        let report = inner
            .learner
            .train_with_progress(steps, report_every, |r| {
                if let (Some(f), Ok(value)) = (&on_progress, to_js(&TrainReport::from(r))) {
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
        to_js(&TrainReport::from(&report?))
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
        to_js(&Prediction::new(inner.learner.classes(), &prediction))
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
        let points = inner.learner.concept_map(&samples, &labels, neighbours).await?;
        to_js(&points.iter().map(MapPoint::from).collect::<Vec<_>>())
    }

    /// Changes settings between trainings: those given replace the current ones (a smaller `memory` lets go of
    /// examples of the largest classes first); `inputSize` and `conceptPrior` are fixed for a learner's life. A
    /// setting that is refused changes nothing.
    pub fn configure(&self, #[wasm_bindgen(unchecked_param_type = "LearnerSettings")] settings: JsValue) -> Result<()> {
        let settings = LearnerSettings::read(&settings)?;
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
