//! The pretrained trunk in a real browser: EfficientNet-Lite0 with its ImageNet head classifies foolbox's 20
//! ImageNet photos (decoded by the browser) on WebGPU and on the CPU, as natively; and a photo handed to the
//! package as the page hands it (a whole `ImageBitmap`) gives the same trunk features as the same pixels taken
//! through the core's preprocessing directly. The blob and the photos are compiled in from `CVM_ASSETS` and
//! `CVM_PHOTOS`; `cargo xtask test` sets both and the `imagenet-test` feature.
#![cfg(all(target_arch = "wasm32", feature = "imagenet-test"))]

use cvm::burn::tensor::Device;
use cvm::trunk::Trunk;
use cvm::{ImageView, PixelFormat, Preprocessor};
use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::{Clamped, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{ImageBitmap, ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

wasm_bindgen_test_configure!(run_in_browser);

const BLOB: &[u8] = include_bytes!(concat!(env!("CVM_ASSETS"), "/efficientnet-lite0-imagenet.safetensors"));

macro_rules! photos {
    ($($index:literal => $label:literal),* $(,)?) => {
        [$((include_bytes!(concat!(env!("CVM_PHOTOS"), "/imagenet_", $index, "_", $label, ".jpg")).as_slice(), $label)),*]
    };
}

/// foolbox 3.3.4's photos and their ImageNet labels (from the file names).
const PHOTOS: [(&[u8], usize); 20] = photos![
    "00" => 243, "01" => 559, "02" => 438, "03" => 990, "04" => 949, "05" => 853, "06" => 609, "07" => 609,
    "08" => 915, "09" => 455, "10" => 541, "11" => 630, "12" => 741, "13" => 471, "14" => 129, "15" => 99,
    "16" => 251, "17" => 22, "18" => 317, "19" => 305,
];

/// A JPEG decoded by the browser (`createImageBitmap`) into RGBA pixels.
async fn decode(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    let global = js_sys::global();
    let blob_class: Function = Reflect::get(&global, &"Blob".into()).unwrap().unchecked_into();
    let blob = Reflect::construct(&blob_class, &Array::of1(&Array::of1(&Uint8Array::from(jpeg)))).unwrap();
    let create: Function = Reflect::get(&global, &"createImageBitmap".into()).unwrap().unchecked_into();
    let promise: js_sys::Promise = create.call1(&JsValue::UNDEFINED, &blob).unwrap().unchecked_into();
    let bitmap: ImageBitmap = JsFuture::from(promise).await.unwrap().unchecked_into();
    let (w, h) = (bitmap.width(), bitmap.height());
    let canvas = OffscreenCanvas::new(w, h).unwrap();
    let context: OffscreenCanvasRenderingContext2d = canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    context.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0).unwrap();
    (w, h, context.get_image_data(0.0, 0.0, w as f64, h as f64).unwrap().data().0)
}

async fn top1_correct(device: &Device) -> usize {
    let trunk = Trunk::from_bytes(BLOB, device).unwrap();
    let mut preprocessor = Preprocessor::new(trunk.input()).unwrap();
    let mut correct = 0;
    for (jpeg, label) in PHOTOS {
        let (w, h, rgba) = decode(jpeg).await;
        let view = ImageView::new(w as usize, h as usize, PixelFormat::Rgba8, &rgba).unwrap();
        let probabilities = trunk.imagenet(&preprocessor.to_vec(view).unwrap(), 1).await.unwrap();
        let top = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        correct += usize::from(top == label);
    }
    correct
}

#[wasm_bindgen_test]
async fn imagenet_top1_on_the_cpu() {
    let correct = top1_correct(&Device::flex()).await;
    web_sys::console::log_1(&format!("ImageNet top-1 in the browser (CPU): {correct}/20").into());
    assert!(correct >= 17, "top-1 {correct}/20");
}

#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn imagenet_top1_on_webgpu() {
    let correct = top1_correct(&cvm_wasm::webgpu_device().await.unwrap()).await;
    web_sys::console::log_1(&format!("ImageNet top-1 in the browser (WebGPU): {correct}/20").into());
    assert!(correct >= 17, "top-1 {correct}/20");
}

/// The trunk's features of the reference frame in wasm (CPU kernels compiled to wasm SIMD) against natively (the
/// same kernels on x86), recorded by tier 1 and baked in by `cargo xtask test`: within 1e-4 of the largest.
#[wasm_bindgen_test]
fn trunk_features_in_wasm_match_the_native_ones() {
    let Some(json) = option_env!("CVM_GOLDEN_FEATURES") else {
        panic!("CVM_GOLDEN_FEATURES is unset: run through `cargo xtask test`")
    };
    let native: Vec<f32> =
        json.trim_matches(|c| c == '[' || c == ']').split(',').map(|v| v.trim().parse().unwrap()).collect();
    let trunk = Trunk::from_bytes(BLOB, &Device::flex()).unwrap();
    let frame = cvm::synthetic::colour_frame(224);
    let pixels = Preprocessor::new(trunk.input())
        .unwrap()
        .to_vec(ImageView::new(224, 224, PixelFormat::Rgba8, &frame).unwrap())
        .unwrap();
    let wasm = trunk.features(&pixels, 1).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(wasm.len(), native.len());
    let largest = native.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = wasm.iter().zip(&native).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    web_sys::console::log_1(
        &format!("trunk features, wasm vs native: largest difference {worst:e} (largest feature {largest})").into(),
    );
    assert!(worst <= 1e-4 * largest, "features differ by up to {worst} (largest {largest})");
}

/// The page's path (a whole frame as an `ImageBitmap`, through the package) and the native path (the same pixels
/// through the core's preprocessing) must meet in the same tensor: the package neither crops nor scales. Both
/// start from the same decoded pixels (the bitmap is made from them losslessly), so no decoder differs.
#[wasm_bindgen_test]
async fn the_pages_frames_take_the_cores_preprocessing_path() {
    let device = Device::flex();
    let trunk = Trunk::from_bytes(BLOB, &device).unwrap();
    let mut preprocessor = Preprocessor::new(trunk.input()).unwrap();
    let options = js_sys::Object::new();
    let settings = js_sys::Object::new();
    Reflect::set(&settings, &"conceptPrior".into(), &false.into()).unwrap();
    for (key, value) in [
        ("concepts", Uint8Array::from(&cvm::synthetic::concept_blob()[..]).into()),
        ("student", Uint8Array::from(BLOB).into()),
        ("backend", "cpu".into()),
        ("settings", settings.into()),
    ] {
        Reflect::set(&options, &key.into(), &value).unwrap();
    }
    let learner = cvm_wasm::Learner::create(options.into()).await.unwrap();
    let create: Function = Reflect::get(&js_sys::global(), &"createImageBitmap".into()).unwrap().unchecked_into();
    for (jpeg, _) in &PHOTOS[..4] {
        let (w, h, rgba) = decode(jpeg).await;
        let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), w, h).unwrap();
        let promise: js_sys::Promise = create.call1(&JsValue::UNDEFINED, &data).unwrap().unchecked_into();
        let frame = JsFuture::from(promise).await.unwrap();
        let page: Vec<f32> = learner.encode(frame, None, None).await.unwrap().to_vec();
        let view = ImageView::new(w as usize, h as usize, PixelFormat::Rgba8, &rgba).unwrap();
        let native = trunk
            .features(&preprocessor.to_vec(view).unwrap(), 1)
            .into_data_async()
            .await
            .unwrap()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(page.len(), native.len());
        let largest = page.iter().zip(&native).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(largest <= 1e-4, "{w}×{h} photo: features differ by up to {largest}");
    }
}
