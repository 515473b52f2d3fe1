//! The façade in a real browser (`wasm-pack test --headless --chrome`, run by `cargo xtask test`), on WebGPU
//! and on the CPU (flex in wasm); built without the `webgpu` feature (the package's CPU-only build), the CPU half.

use cvm::synthetic::{self, REFERENCE_SIDE};
use cvm_wasm::Learner;
use js_sys::{Object, Reflect, Uint8Array};
use rand::{SeedableRng, rngs::StdRng};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SIDE: u32 = REFERENCE_SIDE as u32;

fn options(backend: &str, concepts: &[u8]) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"backend".into(), &backend.into()).unwrap();
    Reflect::set(&o, &"concepts".into(), &Uint8Array::from(concepts).into()).unwrap();
    let settings = Object::new();
    Reflect::set(&settings, &"inputSize".into(), &(SIDE as f64).into()).unwrap();
    Reflect::set(&settings, &"seed".into(), &7.0.into()).unwrap();
    Reflect::set(&settings, &"batchSize".into(), &16.0.into()).unwrap();
    Reflect::set(&settings, &"learningRate".into(), &0.003.into()).unwrap();
    Reflect::set(&o, &"settings".into(), &settings).unwrap();
    o.into()
}

fn frame(class: usize, rng: &mut StdRng) -> JsValue {
    Uint8Array::from(&synthetic::rgba(&synthetic::image(class, REFERENCE_SIDE, rng))[..]).into()
}

fn train_options(steps: u32) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"steps".into(), &(steps as f64).into()).unwrap();
    o.into()
}

fn field(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

async fn learner(backend: &str) -> Learner {
    Learner::create(options(backend, &synthetic::concept_blob()))
        .await
        .unwrap_or_else(|e| panic!("create on {backend}: {e:?}"))
}

async fn teach(learner: &Learner, examples: usize, steps: u32) {
    let mut rng = StdRng::seed_from_u64(1);
    for (c, name) in synthetic::NAMES[..3].iter().enumerate() {
        learner.add_class((*name).into()).unwrap();
        for _ in 0..examples {
            learner.add_example((*name).into(), frame(c, &mut rng), Some(SIDE), Some(SIDE)).await.unwrap();
        }
        learner.train(Some(train_options(steps))).await.unwrap();
    }
}

async fn accuracy(learner: &Learner) -> f64 {
    let mut rng = StdRng::seed_from_u64(99);
    let mut correct = 0;
    for i in 0..30 {
        let c = i % 3;
        let p = learner.predict(frame(c, &mut rng), Some(SIDE), Some(SIDE)).await.unwrap();
        let scores: js_sys::Array = field(&p, "scores").unchecked_into();
        correct += usize::from(field(&scores.get(0), "label").as_string().unwrap() == synthetic::NAMES[c]);
    }
    correct as f64 / 30.0
}

async fn learns(backend: &str) {
    let learner = learner(backend).await;
    assert_eq!(learner.backend(), backend);
    teach(&learner, 40, 60).await;
    let acc = accuracy(&learner).await;
    assert!(acc >= 0.95, "{backend}: accuracy {acc}");
}

/// The WebGPU adapter's description (vendor, architecture, device, description), as the browser gives it.
#[cfg(feature = "webgpu")]
async fn adapter_description() -> String {
    let gpu = field(&field(&js_sys::global(), "navigator"), "gpu");
    let request: js_sys::Function = field(&gpu, "requestAdapter").unchecked_into();
    let promise: js_sys::Promise = request.call0(&gpu).unwrap().unchecked_into();
    let info = field(&wasm_bindgen_futures::JsFuture::from(promise).await.unwrap(), "info");
    ["vendor", "architecture", "device", "description"]
        .map(|k| field(&info, k).as_string().unwrap_or_default())
        .join(" ")
}

/// `auto` runs on WebGPU only on a hardware adapter: headless Chromium's is SwiftShader, a CPU emulation about 40×
/// slower than the CPU backend, so there it must choose the CPU and say why. An explicit `webgpu` is obeyed, and
/// `preferredBackend` tells the same choice without starting anything.
#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn auto_takes_the_cpu_over_a_software_webgpu_adapter() {
    let adapter = adapter_description().await;
    let auto = learner("auto").await;
    if adapter.to_lowercase().contains("swiftshader") {
        assert_eq!(auto.backend(), "cpu", "adapter: {adapter}");
        assert!(auto.backend_reason().contains("software renderer"), "{}", auto.backend_reason());
    } else {
        assert_eq!(auto.backend(), "webgpu", "adapter: {adapter}; reason: {}", auto.backend_reason());
    }
    let asked = learner("webgpu").await;
    assert_eq!((asked.backend().as_str(), asked.backend_reason().as_str()), ("webgpu", "WebGPU was asked for"));
    // What a page asks before it picks a build of the package: the same choice, for the same reason.
    let preferred = cvm_wasm::preferred_backend(JsValue::UNDEFINED).await.unwrap();
    assert_eq!(field(&preferred, "backend").as_string().unwrap(), auto.backend());
    assert_eq!(field(&preferred, "reason").as_string().unwrap(), auto.backend_reason());
    assert!(cvm_wasm::preferred_backend("gpu".into()).await.is_err(), "an unknown backend is refused");
}

/// The keys each options reader accepts are exactly the fields the generated declarations give those options, so
/// an option cannot be declared and refused, or read and undeclared.
#[wasm_bindgen_test]
fn the_options_read_are_the_options_declared() {
    use cvm_wasm::shapes::{LearnerOptions, LearnerSettings, TrainOptions};
    use tsify::Tsify;
    /// Field names of a generated `export interface … { … }`, doc comments skipped.
    fn declared(declaration: &str) -> Vec<&str> {
        let body = &declaration[declaration.find('{').expect("an interface") + 1..];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('/') && !l.starts_with('}'))
            .map(|l| l.split([':', '?']).next().unwrap_or(l))
            .collect()
    }
    assert_eq!(declared(LearnerOptions::DECL), LearnerOptions::KEYS, "{}", LearnerOptions::DECL);
    assert_eq!(declared(LearnerSettings::DECL), LearnerSettings::KEYS, "{}", LearnerSettings::DECL);
    assert_eq!(declared(TrainOptions::DECL), TrainOptions::KEYS, "{}", TrainOptions::DECL);
}

/// The CPU-only build (`--no-default-features`, what the package loads first) runs `auto` on the CPU, and asked
/// for WebGPU it says it has none.
#[cfg(not(feature = "webgpu"))]
#[wasm_bindgen_test]
async fn the_cpu_only_build_runs_on_the_cpu_and_says_it_has_no_webgpu() {
    assert_eq!(learner("auto").await.backend(), "cpu");
    let refused = Learner::create(options("webgpu", &synthetic::concept_blob())).await.err().expect("no WebGPU here");
    assert!(message(refused.into()).contains("runs on the CPU only"));
}

#[wasm_bindgen_test]
async fn learns_three_classes_on_cpu() {
    learns("cpu").await;
}

#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn learns_three_classes_on_webgpu() {
    learns("webgpu").await;
}

/// Natively computed losses of the reference scenario, baked in by `cargo xtask test`.
fn golden() -> Vec<f32> {
    let Some(json) = option_env!("CVM_GOLDEN_LOSSES") else {
        panic!("CVM_GOLDEN_LOSSES is unset: run through `cargo xtask test`")
    };
    json.trim_matches(|c| c == '[' || c == ']').split(',').map(|v| v.trim().parse().unwrap()).collect()
}

fn relative(a: f32, b: f32) -> f32 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-6)
}

/// The reference scenario's losses on the CPU in wasm (either build) against natively.
#[wasm_bindgen_test]
async fn flex_in_wasm_matches_native() {
    let expected = golden();
    let flex = synthetic::reference_run(burn::tensor::Device::flex().autodiff(), 6).await.unwrap();
    assert_eq!(flex.len(), expected.len());
    for (i, (a, b)) in flex.iter().zip(&expected).enumerate() {
        assert!(relative(*a, *b) <= 1e-4, "step {i}: wasm flex {a} vs native flex {b}");
    }
}

/// …and on WebGPU against the CPU's (native ones: wasm's are within 1e-4 of them, above).
#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn webgpu_matches_flex() {
    let flex = golden();
    let gpu = Learner::create(options("webgpu", &synthetic::concept_blob())).await.unwrap();
    drop(gpu); // starts (and caches) the WebGPU device
    let device = cvm_wasm::webgpu_device().await.unwrap().autodiff();
    let webgpu = synthetic::reference_run(device, 6).await.unwrap();
    // Stated tolerance: 1e-3 relative over the first class's steps (floating-point order differs on the GPU and
    // training amplifies it later), 5e-2 over the rest.
    for (i, (a, b)) in webgpu.iter().zip(&flex).enumerate() {
        let tolerance = if i < 6 { 1e-3 } else { 5e-2 };
        assert!(relative(*a, *b) <= tolerance, "step {i}: webgpu {a} vs flex {b}");
    }
}

async fn snapshot_round_trip(backend: &str) {
    let learner = learner(backend).await;
    teach(&learner, 10, 10).await;
    let bytes = learner.save().await.unwrap();
    let restored = Learner::load(&bytes, options(backend, &synthetic::concept_blob())).await.unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    for c in 0..3 {
        let image = frame(c, &mut rng);
        let a = learner.predict(image.clone(), Some(SIDE), Some(SIDE)).await.unwrap();
        let b = restored.predict(image, Some(SIDE), Some(SIDE)).await.unwrap();
        assert_eq!(
            js_sys::JSON::stringify(&a).unwrap(),
            js_sys::JSON::stringify(&b).unwrap(),
            "{backend}: prediction changed"
        );
    }
}

/// `options` with `settings` set to `entries`, replacing the defaults of [`options`].
fn options_with(settings: &[(&str, JsValue)]) -> JsValue {
    let o = options("cpu", &synthetic::concept_blob());
    let s = Object::new();
    for (key, value) in settings {
        Reflect::set(&s, &(*key).into(), value).unwrap();
    }
    Reflect::set(&o, &"settings".into(), &s).unwrap();
    o
}

#[wasm_bindgen_test]
async fn load_applies_the_settings_it_is_given() {
    let learner = learner("cpu").await;
    teach(&learner, 10, 2).await;
    let bytes = learner.save().await.unwrap();
    let setting = |l: &Learner, key: &str| field(&l.settings().unwrap(), key).as_f64().unwrap();
    assert_eq!(setting(&learner, "memory"), 500.0);

    let given = [("memory", 15.0.into()), ("learningRate", 0.01.into()), ("acceptRate", 0.8.into())];
    let restored = Learner::load(&bytes, options_with(&given)).await.unwrap();
    assert_eq!(setting(&restored, "memory"), 15.0);
    assert_eq!(setting(&restored, "learningRate"), 0.01);
    assert!((setting(&restored, "acceptRate") - 0.8).abs() < 1e-6);
    assert_eq!(setting(&restored, "batchSize"), 16.0, "a setting not given keeps its saved value");
    let counts: Vec<f64> = js_sys::Array::from(&restored.classes().unwrap())
        .iter()
        .map(|c| field(&c, "examples").as_f64().unwrap())
        .collect();
    assert_eq!(counts, [5.0, 5.0, 5.0], "a smaller memory keeps the classes balanced");

    // And on a learner in use.
    let smaller = Object::new();
    Reflect::set(&smaller, &"memory".into(), &9.0.into()).unwrap();
    restored.configure(smaller.into()).unwrap();
    let counts: Vec<f64> = js_sys::Array::from(&restored.classes().unwrap())
        .iter()
        .map(|c| field(&c, "examples").as_f64().unwrap())
        .collect();
    assert_eq!(counts, [3.0, 3.0, 3.0]);
    let refused = Object::new();
    Reflect::set(&refused, &"inputSize".into(), &64.0.into()).unwrap();
    assert!(message(restored.configure(refused.into()).err().unwrap().into()).contains("inputSize cannot change"));
    assert_eq!(setting(&restored, "memory"), 9.0, "a refused setting changes nothing");

    for (given, expected) in [
        (("inputSize", 32.0.into()), "inputSize cannot change"),
        (("conceptPrior", true.into()), "concept prior"),
        (("memory", (-3.0).into()), "settings.memory must be a whole number"),
        (("conceptPrior", "yes".into()), "settings.conceptPrior must be true or false"),
        (("lerningRate", 0.1.into()), "lerningRate"),
    ] {
        let err = message(Learner::load(&bytes, options_with(&[given])).await.err().unwrap().into());
        assert!(err.contains(expected), "{err}");
    }
}

#[wasm_bindgen_test]
async fn snapshot_round_trip_on_cpu() {
    snapshot_round_trip("cpu").await;
}

#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn snapshot_round_trip_on_webgpu() {
    snapshot_round_trip("webgpu").await;
}

fn message(err: JsValue) -> String {
    field(&err, "message").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn bad_input_rejects_with_errors_and_the_learner_survives() {
    let blob = synthetic::concept_blob();
    let err = Learner::create(options("cpu", &blob[..blob.len() / 2])).await.err().map(|e| message(e.into())).unwrap();
    assert!(err.contains("concept blob"), "{err}");
    let err = Learner::create(options("quantum", &blob)).await.err().map(|e| message(e.into())).unwrap();
    assert!(err.contains("backend must be"), "{err}");

    let learner = learner("cpu").await;
    let err = message(learner.add_class("kitten".into()).err().unwrap().into());
    assert!(err.contains("not in the concept vocabulary"), "{err}");
    learner.add_class("cat".into()).unwrap();
    let err = message(
        learner
            .add_example("dog".into(), frame(0, &mut StdRng::seed_from_u64(0)), Some(SIDE), Some(SIDE))
            .await
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("no class named \"dog\""), "{err}");
    let err = message(
        learner
            .add_example("cat".into(), frame(0, &mut StdRng::seed_from_u64(0)), Some(SIDE + 1), Some(SIDE))
            .await
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("RGBA needs"), "{err}");
    let err = message(
        learner.add_example("cat".into(), JsValue::from_str("not an image"), None, None).await.err().unwrap().into(),
    );
    assert!(err.contains("unsupported image"), "{err}");
    let err = message(Learner::load(&[1, 2, 3], options("cpu", &blob)).await.err().unwrap().into());
    assert!(err.contains("not a snapshot"), "{err}");

    // Still usable.
    learner.add_example("cat".into(), frame(0, &mut StdRng::seed_from_u64(0)), Some(SIDE), Some(SIDE)).await.unwrap();
    let report = learner.train(Some(train_options(2))).await.unwrap();
    assert_eq!(field(&report, "steps").as_f64(), Some(2.0));
}

fn ids(learner: &Learner, label: &str) -> Vec<u32> {
    serde_wasm_bindgen::from_value(learner.examples(label.into()).unwrap()).unwrap()
}

#[wasm_bindgen_test]
async fn single_examples_are_removed_by_id() {
    let learner = learner("cpu").await;
    learner.add_class("cat".into()).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let mut added = Vec::new();
    for _ in 0..3 {
        added.push(learner.add_example("cat".into(), frame(0, &mut rng), Some(SIDE), Some(SIDE)).await.unwrap());
    }
    assert_eq!(ids(&learner, "cat"), added);
    assert!(learner.remove_example((added[1] as f64).into()).unwrap());
    assert!(!learner.remove_example((added[1] as f64).into()).unwrap(), "removed twice");
    for bad in [f64::NAN, -1.0, 0.5] {
        let err = message(learner.remove_example(bad.into()).err().unwrap().into());
        assert!(err.contains("example id"), "{err}");
    }
    assert_eq!(ids(&learner, "cat"), vec![added[0], added[2]], "a bad id removed nothing");
    learner.train(Some(train_options(2))).await.unwrap();
    assert!(learner.remove_example((added[0] as f64).into()).unwrap(), "trained examples come out of the memory");
    assert_eq!(ids(&learner, "cat"), vec![added[2]]);
    let classes: js_sys::Array = learner.classes().unwrap().unchecked_into();
    assert_eq!(field(&classes.get(0), "examples").as_f64(), Some(1.0));
    let err = message(learner.examples("dog".into()).err().unwrap().into());
    assert!(err.contains("no class named \"dog\""), "{err}");
}

/// Arguments of the wrong kind, unknown option keys and oversized names are `Error`s that say what to fix; none
/// traps the module, removes anything or is silently read as a default.
#[wasm_bindgen_test]
async fn arguments_of_the_wrong_kind_are_errors_not_traps() {
    let blob = synthetic::concept_blob();
    let learner = learner("cpu").await;
    for bad in [JsValue::from(42.0), Object::new().into(), JsValue::TRUE, JsValue::NULL, JsValue::UNDEFINED] {
        let err = message(learner.add_class(bad).err().unwrap().into());
        assert!(err.contains("a class name must be a string"), "{err}");
    }
    let err = message(learner.add_class("x".repeat(100_000).into()).err().unwrap().into());
    assert!(err.contains("at most 100 characters"), "{err}");
    assert!(learner.suggest(JsValue::from(7.0), 5).is_err());
    learner.add_class("cat".into()).unwrap();
    let id = learner
        .add_example("cat".into(), frame(0, &mut StdRng::seed_from_u64(0)), Some(SIDE), Some(SIDE))
        .await
        .unwrap();
    for bad in [JsValue::NULL, JsValue::UNDEFINED, JsValue::from_str("0")] {
        let err = message(learner.remove_example(bad).err().unwrap().into());
        assert!(err.contains("example id"), "{err}");
    }
    assert_eq!(ids(&learner, "cat"), vec![id], "a bad id removed nothing");

    let with = |key: &str, value: JsValue| {
        let o = Object::new();
        Reflect::set(&o, &key.into(), &value).unwrap();
        JsValue::from(o)
    };
    let err = message(learner.train(Some(with("steps", "10".into()))).await.err().unwrap().into());
    assert!(err.contains("steps must be a number"), "{err}");
    let err = message(learner.train(Some(with("stpes", 10.0.into()))).await.err().unwrap().into());
    assert!(err.contains("no `stpes` (did you mean `steps`?)"), "{err}");

    let options = |key: &str, value: JsValue| {
        let o = options("cpu", &blob);
        Reflect::set(&o, &key.into(), &value).unwrap();
        o
    };
    let err = message(Learner::create(options("backend", 5.0.into())).await.err().unwrap().into());
    assert!(err.contains("backend must be a string"), "{err}");
    let err =
        message(Learner::create(options("settings", with("lerningRate", 50.0.into()))).await.err().unwrap().into());
    assert!(err.contains("did you mean `learningRate`?"), "{err}");
    let err = message(Learner::create(options("settings", js_sys::Array::new().into())).await.err().unwrap().into());
    assert!(err.contains("settings must be an object"), "{err}");
    let err = message(Learner::create(options("backnd", "cpu".into())).await.err().unwrap().into());
    assert!(err.contains("did you mean `backend`?"), "{err}");
    // A detached buffer (transferred away) is refused at once, not left pending.
    let view = Uint8Array::from(&blob[..]);
    let buffer = view.buffer();
    let transfer = Object::new();
    Reflect::set(&transfer, &"transfer".into(), &js_sys::Array::of1(&buffer)).unwrap();
    let structured_clone: js_sys::Function =
        Reflect::get(&js_sys::global(), &"structuredClone".into()).unwrap().unchecked_into();
    structured_clone.call2(&JsValue::NULL, &buffer, &transfer).unwrap();
    for detached in [JsValue::from(buffer), view.into()] {
        let err = message(Learner::create(options("concepts", detached)).await.err().unwrap().into());
        assert!(err.contains("detached"), "{err}");
    }

    // A stop asked for before training is kept: the next training ends at its first report.
    learner.stop_training();
    let report = learner.train(Some(with("steps", 20.0.into()))).await.unwrap();
    assert_eq!(field(&report, "steps").as_f64(), Some(5.0), "stopped after the first report of 5 steps");
    let report = learner.train(Some(train_options(2))).await.unwrap();
    assert_eq!(field(&report, "steps").as_f64(), Some(2.0), "the stop was used up");
}

/// Resolves after `ms` milliseconds (a timer, as a click or a worker message would arrive).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: js_sys::Function = Reflect::get(&global, &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call2(&global, &resolve, &ms.into()).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Training on the CPU runs on the page's thread: between reports it lets the event loop run, so a Stop from a
/// timer (a click, a worker message) lands while it trains, not after.
#[wasm_bindgen_test]
async fn stop_reaches_a_training_on_the_cpu() {
    let learner = std::rc::Rc::new(learner("cpu").await);
    learner.add_class("cat".into()).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..4 {
        learner.add_example("cat".into(), frame(0, &mut rng), Some(SIDE), Some(SIDE)).await.unwrap();
    }
    let stopper = learner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        sleep(100).await;
        stopper.stop_training();
    });
    let options = Object::new();
    Reflect::set(&options, &"steps".into(), &5000.0.into()).unwrap();
    Reflect::set(&options, &"reportEvery".into(), &1.0.into()).unwrap();
    let report = learner.train(Some(options.into())).await.unwrap();
    let steps = field(&report, "steps").as_f64().unwrap();
    assert!(steps < 5000.0, "the stop arrived only after all {steps} steps");
}

#[wasm_bindgen_test]
async fn one_pass_per_frame_and_held_out_frames_measured_from_their_encoding() {
    let learner = learner("cpu").await;
    let mut rng = StdRng::seed_from_u64(5);
    let fresh = learner.recognise(frame(0, &mut rng), 3, Some(SIDE), Some(SIDE)).await.unwrap();
    assert!(field(&fresh, "prediction").is_null(), "no prediction before the first class");
    assert_eq!(js_sys::Array::from(&field(&fresh, "looksLike")).length(), 3);

    assert_eq!(learner.input_size(), SIDE, "frames are scaled to the student's input side");
    teach(&learner, 12, 30).await;
    let probe = frame(1, &mut rng);
    let seen = learner.recognise(probe.clone(), 2, Some(SIDE), Some(SIDE)).await.unwrap();
    let alone = learner.predict(probe.clone(), Some(SIDE), Some(SIDE)).await.unwrap();
    assert_eq!(field(&field(&seen, "prediction"), "label").as_string(), field(&alone, "label").as_string());
    assert_eq!(field(&field(&seen, "prediction"), "score").as_f64(), field(&alone, "score").as_f64());
    let ranked = js_sys::Array::from(&learner.rank_vocabulary(probe, 2, Some(SIDE), Some(SIDE)).await.unwrap());
    let looks_like = js_sys::Array::from(&field(&seen, "looksLike"));
    assert_eq!(field(&looks_like.get(0), "label").as_string(), field(&ranked.get(0), "label").as_string());

    // Held-out frames: encoded once, then measured in one pass; the figures are those of predicting each frame.
    let mut samples = Vec::new();
    let labels = js_sys::Array::new();
    let mut expected = std::collections::BTreeMap::<String, (f64, f64)>::new();
    for i in 0..9 {
        let (c, f) = (i % 3, frame(i % 3, &mut rng));
        samples.extend(learner.encode(f.clone(), Some(SIDE), Some(SIDE)).await.unwrap());
        labels.push(&synthetic::NAMES[c].into());
        let p = learner.predict(f, Some(SIDE), Some(SIDE)).await.unwrap();
        let entry = expected.entry(synthetic::NAMES[c].to_string()).or_default();
        entry.0 += f64::from(u8::from(field(&p, "label").as_string().unwrap() == synthetic::NAMES[c]));
        entry.1 += 1.0;
    }
    let accuracy = learner.class_accuracy(&samples, labels.to_vec()).await.unwrap();
    for (name, (hits, n)) in &expected {
        let got = field(&accuracy, name).as_f64().unwrap();
        assert!((got - hits / n).abs() < 1e-6, "{name}: {got} from encodings, {} frame by frame", hits / n);
    }
    assert!(learner.class_accuracy(&samples, vec!["nothing".into()]).await.is_err(), "labels must name classes");

    // The concept map takes encoded frames as well as images.
    let names: Vec<String> = (0..9).map(|i| synthetic::NAMES[i % 3].to_string()).collect();
    let map = learner.concept_map(js_sys::Float32Array::from(&samples[..]).into(), names, 1).await.unwrap();
    let samples_on_map =
        js_sys::Array::from(&map).iter().filter(|p| field(p, "kind").as_string().as_deref() == Some("sample")).count();
    assert_eq!(samples_on_map, 9);
    assert!(learner.concept_map(JsValue::from(5), vec![], 1).await.is_err());
}
