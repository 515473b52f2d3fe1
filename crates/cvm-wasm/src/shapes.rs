//! Every value that crosses between JavaScript and the package, as Rust types: the options a call reads, the
//! reports and results it hands back, the names its errors carry. The package's TypeScript declarations are
//! generated from these types (`tsify`, doc comments included), so a field cannot change here without changing
//! there; `tests/declarations.test.mjs` checks the package's values against the declarations. Values from the
//! core are converted into these types, never handed out as the core's own, so the core can change freely.

use js_sys::{Function, Reflect};
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::{JsCast, JsValue};

use cvm::trunk::Trunk;
use cvm::{LearnerConfig, StudentConfig};

use crate::error::{Error, Result};

/// A concept or trunk blob: a URL to fetch, or its bytes.
#[derive(Tsify)]
#[tsify(type = "string | Uint8Array | ArrayBuffer")]
pub struct BlobSource;

/// Anything a frame can come from. Raw bytes are RGBA and need `width` and `height`.
#[derive(Tsify)]
#[tsify(
    type = "ImageData | ImageBitmap | HTMLVideoElement | HTMLCanvasElement | HTMLImageElement | OffscreenCanvas | VideoFrame | Uint8Array | Uint8ClampedArray"
)]
pub struct ImageSource;

/// Where a learner runs.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Webgpu,
    Cpu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webgpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

/// The `name` of every Error the package throws: the kind of failure (`"Error"` for those of no particular kind).
/// An `UnknownConceptError` also carries `suggestions`: vocabulary names close to the one given.
#[derive(Tsify, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorName {
    InvalidBlobError,
    NewerVersionError,
    UnknownConceptError,
    UnknownClassError,
    DuplicateClassError,
    InvalidArgumentError,
    InvalidImageError,
    NotReadyError,
    BackendError,
    BusyError,
    Error,
}

impl ErrorName {
    /// The name as JavaScript sees it: the variant's own name, as the declarations spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidBlobError => "InvalidBlobError",
            Self::NewerVersionError => "NewerVersionError",
            Self::UnknownConceptError => "UnknownConceptError",
            Self::UnknownClassError => "UnknownClassError",
            Self::DuplicateClassError => "DuplicateClassError",
            Self::InvalidArgumentError => "InvalidArgumentError",
            Self::InvalidImageError => "InvalidImageError",
            Self::NotReadyError => "NotReadyError",
            Self::BackendError => "BackendError",
            Self::BusyError => "BusyError",
            Self::Error => "Error",
        }
    }
}

/// Which backend `Learner.create({ backend })` would run on here, and why.
#[derive(Tsify, Serialize)]
pub struct BackendChoice {
    pub backend: Backend,
    pub reason: String,
}

/// How far a blob has been fetched.
#[derive(Tsify, Serialize)]
#[tsify(missing_as_null)] // the values are handed over with `to_js`: `None` as `null`
pub struct LoadProgress<'a> {
    #[tsify(type = "\"concepts\" | \"student\"")]
    pub what: &'a str,
    /// Bytes so far.
    pub loaded: f64,
    /// Bytes in all, when the server says.
    pub total: Option<f64>,
}

/// The settings of a learner: in options and `configure`, any of them (the others stay as they are); from
/// `settings()`, all of them.
#[derive(Tsify, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LearnerSettings {
    /// Logit scale of the cosine head (default 16).
    #[tsify(optional)]
    pub scale: Option<f32>,
    /// Weight of the pull onto a class's own anchor (default 1).
    #[tsify(optional)]
    pub mapping_weight: Option<f32>,
    #[tsify(optional)]
    pub learning_rate: Option<f64>,
    /// Examples of the new class per step; as many again come from replay (default 32).
    #[tsify(optional)]
    pub batch_size: Option<usize>,
    /// Replay memory budget in examples (default 500).
    #[tsify(optional)]
    pub memory: Option<usize>,
    #[tsify(optional)]
    pub seed: Option<u64>,
    /// Share of a class's own examples that count as the class; a frame farther from them is "unknown" (default 0.95).
    #[tsify(optional)]
    pub accept_rate: Option<f32>,
    /// Start from what the trunk blob's ImageNet classifier knows, so names are recognised before their first example (default true with a trunk blob).
    #[tsify(optional)]
    pub concept_prior: Option<bool>,
    /// Square input side of the from-scratch student, in pixels (default 32; a trunk blob sets its own).
    #[tsify(optional)]
    pub input_size: Option<usize>,
}

impl LearnerSettings {
    pub const KEYS: &[&str] = &[
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

    /// A settings object, checked key by key (an error names the setting): undefined or null is no settings.
    pub fn read(settings: &JsValue) -> Result<Self> {
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
    pub fn of(config: &LearnerConfig) -> Self {
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
    pub fn config(self, trunk: Option<&Trunk>) -> LearnerConfig {
        let student = match trunk {
            Some(t) => StudentConfig::adapter(t.input(), cvm::efficientnet::FEATURES),
            None => StudentConfig::tiny_cnn(3, self.input_size.unwrap_or(32)),
        };
        self.over(LearnerConfig::new(student))
    }

    /// Puts the settings given here over those of an existing `learner` (one whose input size they cannot change).
    pub fn onto(self, learner: &mut cvm::Learner) -> Result<()> {
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

/// The options of `Learner.create` and `Learner.load`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase")]
pub struct LearnerOptions {
    #[tsify(type = "BlobSource")]
    pub concepts: JsValue,
    /// A trunk blob: the student is then an adapter over its pretrained trunk (EfficientNet-Lite0); without it a
    /// small CNN learns from scratch.
    #[tsify(optional, type = "BlobSource")]
    pub student: Option<JsValue>,
    #[tsify(optional, type = "\"auto\" | Backend")]
    pub backend: Option<String>,
    #[tsify(optional)]
    pub settings: LearnerSettings,
    #[tsify(optional, type = "(progress: LoadProgress) => void")]
    pub on_progress: Option<Function>,
}

impl LearnerOptions {
    pub const KEYS: &[&str] = &["concepts", "student", "backend", "settings", "onProgress"];

    /// Options as given, checked: every key known, each of its type; the blobs are fetched later.
    pub fn read(options: &JsValue) -> Result<Self> {
        check_keys(options, "the learner's options", Self::KEYS)?;
        let concepts = get(options, "concepts");
        if concepts.is_undefined() {
            return Err(Error::msg("options.concepts is required: the URL or bytes of a concept blob"));
        }
        let student = Some(get(options, "student")).filter(|s| !s.is_undefined() && !s.is_null());
        let backend = match get(options, "backend") {
            v if v.is_undefined() => None,
            v => Some(string(&v, "backend")?),
        };
        let on_progress = callback(options, "onProgress")?;
        let settings = LearnerSettings::read(&get(options, "settings"))?;
        Ok(Self { concepts, student, backend, settings, on_progress })
    }
}

/// The options of `train`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TrainOptions {
    /// Optimiser steps (default 50).
    #[tsify(optional)]
    pub steps: usize,
    /// Steps between progress reports (default 5).
    #[tsify(optional)]
    pub report_every: usize,
    #[tsify(optional, type = "(report: TrainReport) => void")]
    pub on_progress: Option<Function>,
}

impl TrainOptions {
    pub const KEYS: &[&str] = &["steps", "reportEvery", "onProgress"];

    /// Options as given (undefined or null: every default), checked.
    pub fn read(options: Option<JsValue>) -> Result<Self> {
        let options =
            options.filter(|o| !o.is_undefined() && !o.is_null()).unwrap_or_else(|| js_sys::Object::new().into());
        check_keys(&options, "train options", Self::KEYS)?;
        let steps = number(&options, "steps")?.unwrap_or(50.0);
        let every = number(&options, "reportEvery")?.unwrap_or(5.0);
        if !(steps >= 0.0 && steps.fract() == 0.0 && every >= 1.0 && every.fract() == 0.0) {
            return Err(Error::msg("steps must be a whole number ≥ 0 and reportEvery a whole number ≥ 1"));
        }
        Ok(Self { steps: steps as usize, report_every: every as usize, on_progress: callback(&options, "onProgress")? })
    }
}

/// Figures of one `train` call, or of the training so far (progress).
#[derive(Tsify, Serialize)]
pub struct TrainReport<'a> {
    pub steps: usize,
    /// Loss after each step.
    pub losses: &'a [f32],
    /// Mean training-batch accuracy over the steps, in `[0, 1]`.
    pub accuracy: f32,
}

impl<'a> From<&'a cvm::TrainReport> for TrainReport<'a> {
    fn from(r: &'a cvm::TrainReport) -> Self {
        Self { steps: r.steps, losses: &r.losses, accuracy: r.accuracy }
    }
}

/// One class's score for a frame.
#[derive(Tsify, Serialize)]
pub struct ClassScore<'a> {
    pub label: &'a str,
    /// Probability among the known classes.
    pub score: f32,
    /// Cosine to the class's anchor (the probability again with a linear head).
    pub similarity: f32,
}

/// A frame scored against the known classes.
#[derive(Tsify, Serialize)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)] // the values are handed over with `to_js`: `None` as `null`
pub struct Prediction<'a> {
    /// The best class (a guess when `unknown`).
    pub label: &'a str,
    pub score: f32,
    /// True when the frame lies farther from the best class's examples than they lie from each other: none of the taught classes.
    pub unknown: bool,
    /// How close the frame lies to the best class's examples relative to their own spread, or (with the grounded prior) how much better the class's name fits it than any unclaimed concept, whichever is higher: ≥ 0 is known; null when neither can be judged.
    pub open_set_score: Option<f32>,
    /// Every known class, best first.
    pub scores: Vec<ClassScore<'a>>,
}

impl<'a> Prediction<'a> {
    pub fn new(classes: &'a [cvm::Class], prediction: &cvm::Prediction) -> Self {
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

/// A vocabulary concept a frame looks like.
#[derive(Tsify, Serialize)]
pub struct ConceptMatch<'a> {
    pub label: &'a str,
    pub similarity: f32,
}

/// One pass over a frame: the prediction (null before the first class) and what the frame looks like.
#[derive(Tsify, Serialize)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)] // the values are handed over with `to_js`: `None` as `null`
pub struct Recognition<'a> {
    pub prediction: Option<Prediction<'a>>,
    pub looks_like: Vec<ConceptMatch<'a>>,
}

/// A known class.
#[derive(Tsify, Serialize)]
pub struct ClassInfo<'a> {
    pub label: &'a str,
    /// Examples held: in the replay memory, or not yet trained on.
    pub examples: usize,
}

/// A point of the concept map.
#[derive(Tsify, Serialize)]
pub struct MapPoint<'a> {
    pub x: f32,
    pub y: f32,
    #[tsify(type = "\"anchor\" | \"concept\" | \"sample\"")]
    pub kind: &'static str,
    /// Class or concept name; for a frame, the class it was given as (or empty).
    pub label: &'a str,
}

impl<'a> From<&'a cvm::map::MapPoint> for MapPoint<'a> {
    fn from(p: &'a cvm::map::MapPoint) -> Self {
        let kind = match p.kind {
            cvm::map::PointKind::Anchor => "anchor",
            cvm::map::PointKind::Concept => "concept",
            cvm::map::PointKind::Sample => "sample",
        };
        Self { x: p.x, y: p.y, kind, label: &p.label }
    }
}

/// A value handed to JavaScript (plain objects and arrays; `None` as `null`).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::msg(format!("cannot hand a result to JavaScript: {e}")))
}

/// `object[key]`, or undefined when `object` is no object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// What a JS value is, for messages.
pub fn kind(value: &JsValue) -> String {
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
pub fn string(value: &JsValue, what: &str) -> Result<String> {
    value.as_string().ok_or_else(|| Error::msg(format!("{what} must be a string, not {}", kind(value))))
}

fn callback(object: &JsValue, key: &str) -> Result<Option<Function>> {
    let value = get(object, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.dyn_into::<Function>().map(Some).map_err(|_| Error::msg(format!("{key} must be a function")))
}
