//! Blob sources: bytes as they are, or a URL fetched with progress reports.

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

use crate::error::{Error, Result};
use crate::shapes::{LoadProgress, to_js};

/// Largest blob accepted (a concept or trunk blob is a few MB; a snapshot can hold a replay memory).
const MAX_BYTES: usize = 512 << 20;

fn report(on_progress: Option<&Function>, what: &str, loaded: usize, total: Option<usize>) {
    if let Some(f) = on_progress {
        let progress = LoadProgress { what, loaded: loaded as f64, total: total.map(|t| t as f64) };
        if let Ok(value) = to_js(&progress) {
            let _ = f.call1(&JsValue::NULL, &value);
        }
    }
}

/// Bytes of `source`: a `Uint8Array`, an `ArrayBuffer`, or a URL string to fetch.
pub async fn load(source: &JsValue, what: &str, on_progress: Option<&Function>) -> Result<Vec<u8>> {
    // A buffer transferred elsewhere (to a worker, by `structuredClone`) reads as zero bytes; building a view of it
    // would throw past the façade.
    let empty = || {
        Error::msg(format!(
            "{what}: the bytes are empty — an ArrayBuffer transferred to a worker or by structuredClone is detached and empty here: pass a copy"
        ))
    };
    if let Some(bytes) = source.dyn_ref::<Uint8Array>() {
        return if bytes.byte_length() == 0 { Err(empty()) } else { Ok(bytes.to_vec()) };
    }
    if let Some(buffer) = source.dyn_ref::<js_sys::ArrayBuffer>() {
        return if buffer.byte_length() == 0 { Err(empty()) } else { Ok(Uint8Array::new(buffer).to_vec()) };
    }
    let Some(url) = source.as_string() else {
        return Err(Error::msg(format!("{what}: expected a URL string, Uint8Array or ArrayBuffer")));
    };
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).map_err(Error::js)?.unchecked_into();
    let response = JsFuture::from(
        fetch.call1(&JsValue::NULL, &url.clone().into()).map_err(Error::js)?.unchecked_into::<js_sys::Promise>(),
    )
    .await
    .map_err(|e| Error::msg(format!("{what}: cannot fetch {url}: {}", Error::js(e))))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        return Err(Error::msg(format!("{what}: fetching {url} answered HTTP {}", response.status())));
    }
    let total = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    let Some(body) = response.body() else {
        return Err(Error::msg(format!("{what}: {url} has no body")));
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(MAX_BYTES));
    report(on_progress, what, 0, total);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| Error::msg(format!("{what}: reading {url}: {}", Error::js(e))))?;
        if Reflect::get(&chunk, &"done".into()).map_err(Error::js)?.as_bool() == Some(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(Error::js)?.unchecked_into();
        if bytes.len() + value.length() as usize > MAX_BYTES {
            return Err(Error::msg(format!("{what}: {url} is larger than {} MB", MAX_BYTES >> 20)));
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        report(on_progress, what, bytes.len(), total);
    }
    Ok(bytes)
}
