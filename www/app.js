// The page: camera, class cards, live predictions, plots, persistence. The learner lives in worker.js.

import { get, getMany, set, del, delMany } from "./generated/idb-keyval.js";

const $ = (id) => document.getElementById(id);
const HOLD_OUT_EVERY = 5; // every 5th recorded frame is kept aside to measure accuracy per class
const RECORD_FPS = 8;
const MAX_RECORDED = 10 * RECORD_FPS; // a recording ends by itself after 10 s
const MAX_THUMBS = 24;
const MAX_HELD_OUT = 12; // per class

const state = {
  classes: [], // { label, examples, ids }: ids of the examples the learner holds
  thumbs: new Map(), // label → [{ id, url }]: thumbnails of examples, removable one by one
  // label → [{ frame: ImageBitmap, sample: Float32Array | null }]: frames never trained on, the latest MAX_HELD_OUT,
  // saved as JPEG blobs; `sample` is the learner's encoding, made once, so measuring them again is cheap.
  heldOut: new Map(),
  history: [], // after each training: { label → accuracy }
  losses: [],
  ready: false,
  busy: false,
  recording: false,
  cameraOn: false,
  // A photo recognised in place of the camera (ImageBitmap), and whether the learner has changed since it was.
  photo: null,
  photoDue: false,
  map: null,
};

// ---------- worker ----------
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map();
worker.onmessage = ({ data }) => {
  if (data.event === "progress") return onProgress(data.report, data.steps);
  if (data.event === "fallback") return setBackend("cpu", "WebGPU stopped working", "WebGPU stopped working; continuing on the CPU");
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  data.ok ? resolve(data.result) : reject(Object.assign(new Error(data.error.message), data.error));
};
function call(op, args = {}, transfer = []) {
  const id = nextId++;
  worker.postMessage({ id, op, ...args }, transfer);
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

// ---------- status ----------
function setStatus(text) {
  $("status").textContent = text;
}
/** The backend badge; its tooltip says why this backend runs. */
function setBackend(backend, reason, note) {
  $("backend").textContent = backend === "webgpu" ? "WebGPU" : "CPU";
  $("backend").dataset.backend = backend;
  $("backend").title = `Where training runs: ${reason}`;
  if (note) setStatus(note);
}
/** The accept-rate field as a share, kept within the field's range (an emptied field means the default). */
function acceptRate() {
  return Math.min(1, Math.max(0.5, Number($("accept-rate").value) / 100 || 0.95));
}
/** The settings fields; one that is empty or out of its range is left out (the learner keeps its own). */
function settings() {
  const field = (id) => ($(id).value !== "" && $(id).checkValidity() ? $(id).valueAsNumber : undefined);
  return { learningRate: field("learning-rate"), memory: field("memory"), acceptRate: acceptRate() };
}
function readyStatus() {
  if (state.recording || state.busy) return; // those report their own progress
  const trained = state.classes.some((c) => c.examples > 0);
  setStatus(state.classes.length === 0 ? "ready: add a class" : trained ? "ready" : "ready: record examples");
}

// ---------- camera ----------
const video = $("video");
// Frames go to the worker whole: the learner crops and scales them itself, as it does natively.
const grab = new OffscreenCanvas(1, 1);
const grabContext = grab.getContext("2d", { willReadFrequently: false });

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return cameraProblem("This browser has no camera access. You can still upload images.");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream;
    await video.play();
    state.cameraOn = true;
    $("camera-message").hidden = true;
  } catch (error) {
    // No device reads NotFoundError in most engines, OverconstrainedError in WebKit.
    const none = "No camera found. You can still upload images and try photos.";
    const problem = {
      NotAllowedError: "Camera access was denied. Allow it in the address bar and reload — or upload images and try photos instead.",
      NotFoundError: none,
      OverconstrainedError: none,
    }[error?.name];
    cameraProblem(problem ?? `No camera available (${error?.message ?? error}). You can still upload images and try photos.`);
  }
}
function cameraProblem(text) {
  state.cameraOn = false;
  $("camera-message").textContent = text;
  $("camera-message").hidden = false;
  document.body.dataset.camera = "off";
}
/** What the page shows and recognises: the photo tried in place of the camera, else the camera once it has a
 * frame, else null. */
function shown() {
  return state.photo ?? (state.cameraOn && video.readyState >= 2 ? video : null);
}
/** The current camera frame (or an uploaded image), whole, as a transferable ImageBitmap. */
function frame(source = video) {
  const w = source.videoWidth ?? source.width;
  const h = source.videoHeight ?? source.height;
  if (grab.width !== w || grab.height !== h) [grab.width, grab.height] = [w, h];
  grabContext.drawImage(source, 0, 0);
  return grab.transferToImageBitmap();
}
/** A small square of the frame's centre, as the learner sees it. */
function thumbnail(bitmap) {
  const c = document.createElement("canvas");
  c.width = c.height = 48;
  const side = Math.min(bitmap.width, bitmap.height);
  c.getContext("2d").drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 48, 48);
  return c.toDataURL("image/jpeg", 0.7);
}

// ---------- classes ----------
/** Takes in the worker's view of the classes and drops thumbnails of examples the learner no longer holds. */
function setClasses(classes) {
  state.classes = classes;
  state.photoDue = Boolean(state.photo); // the learner changed: recognise the photo again
  for (const c of classes) {
    const held = new Set(c.ids);
    const thumbs = (state.thumbs.get(c.label) ?? []).filter((t) => held.has(t.id));
    state.thumbs.set(c.label, thumbs);
  }
  for (const label of state.thumbs.keys()) if (!classes.some((c) => c.label === label)) state.thumbs.delete(label);
}
function renderClasses() {
  const list = $("classes");
  list.replaceChildren(
    ...state.classes.map((c) => {
      const li = document.createElement("li");
      li.className = "card";
      li.dataset.testid = "class-card";
      li.dataset.class = c.label;
      li.setAttribute("data-testid", "class-card");
      const thumbs = state.thumbs.get(c.label) ?? [];
      li.innerHTML = `
        <h3><span>${escape(c.label)}</span><span><span data-testid="sample-count">${c.examples}</span> examples</span></h3>
        <div class="actions">
          <button type="button" class="record" data-testid="record" aria-pressed="false" title="Hold to record (or hold Space)">Hold to record</button>
          <label class="button secondary">Upload <input type="file" accept="image/*" multiple></label>
          <button type="button" class="secondary delete" aria-label="Delete class ${escape(c.label)}">Delete</button>
        </div>
        <div class="thumbs" aria-label="Recorded examples of ${escape(c.label)}"></div>`;
      const strip = li.querySelector(".thumbs");
      thumbs.forEach(({ id, url }, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.testid = "remove-sample";
        b.title = "Remove this example";
        b.setAttribute("aria-label", `Remove example ${i + 1} of ${c.label}`);
        b.innerHTML = `<img alt="" src="${url}">`;
        b.onclick = () => removeExample(id);
        strip.append(b);
      });
      wireRecord(li.querySelector(".record"), c.label);
      li.querySelector("input[type=file]").onchange = (e) => addFiles(c.label, e.target.files);
      li.querySelector(".delete").onclick = () => removeClass(c.label);
      li.ondragover = (e) => {
        e.preventDefault();
        li.classList.add("drop");
      };
      li.ondragleave = () => li.classList.remove("drop");
      li.ondrop = (e) => {
        e.preventDefault();
        li.classList.remove("drop");
        addFiles(c.label, e.dataTransfer.files);
      };
      return li;
    }),
  );
  $("train").disabled = state.busy || state.classes.length === 0;
}
function escape(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

async function addClass(name) {
  const message = $("add-message");
  message.hidden = true;
  delete message.dataset.kind;
  try {
    const described = await call("addClass", { name });
    setClasses(described.classes);
    $("concept").value = "";
    renderClasses();
    await persist();
    readyStatus();
    const label = described.classes.at(-1).label;
    document.querySelector(`[data-class="${CSS.escape(label)}"] .record`)?.focus();
    await sayIfKnownAlready(label);
  } catch (error) {
    message.replaceChildren(document.createTextNode(error.message + " "));
    for (const s of error.suggestions ?? []) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = s;
      b.onclick = () => addClass(s);
      message.append(b);
    }
    message.hidden = false;
  }
}

/** A class the grounded prior already recognises in the camera's frame (or the photo tried) is usable before its
 * first example. */
async function sayIfKnownAlready(label) {
  const source = shown();
  if (!source) return;
  const current = frame(source);
  const { prediction } = await call("predict", { frame: current, rank: 0 }, [current]).catch(() => ({}));
  if (prediction?.label !== label || prediction.unknown) return;
  const message = $("add-message");
  message.dataset.kind = "known";
  message.textContent = `The page already knows “${label}” — record a few frames to make it yours.`;
  message.hidden = false;
}

async function removeClass(label) {
  if (!confirm(`Delete “${label}” and its examples?`)) return;
  const described = await call("removeClass", { label });
  setClasses(described.classes);
  state.heldOut.delete(label);
  renderClasses();
  await refreshMap();
  await persist();
}

/** Takes one example back out of the learner (and its thumbnail off the card). */
async function removeExample(id) {
  try {
    const described = await call("removeExample", { example: id });
    setClasses(described.classes);
    renderClasses();
    await persist();
    setStatus("example removed: it is no longer trained on; the model lets go of it as it trains on");
  } catch (error) {
    setStatus(`could not remove the example: ${error.message}`);
  }
}

/**
 * Press-and-hold recording (pointer, or Space/Enter held while the button has focus). Each frame goes to the
 * learner as it is recorded, so its features are ready by the time the button is released; training follows.
 * One recording at a time, owned by the page rather than by a button, so a card re-rendered mid-hold cannot lose
 * its release: it ends on a release anywhere, when the window loses focus or the page is hidden, and after
 * MAX_RECORDED frames.
 */
let recording = null; // { timer, adds, recorded }
function startRecording(button, label) {
  if (recording || !state.ready || !state.cameraOn || state.busy) return;
  if (state.photo) showPhoto(null, ""); // recording shows what it records: the camera
  button.setAttribute("aria-pressed", "true");
  setStatus("recording…");
  state.recording = true;
  const current = (recording = { adds: [], recorded: 0, timer: null });
  current.timer = setInterval(() => {
    current.adds.push(addFrames(label, [frame()], current.recorded++));
    if (current.recorded >= MAX_RECORDED) stopRecording();
  }, 1000 / RECORD_FPS);
}
async function stopRecording() {
  if (!recording) return;
  const { timer, adds } = recording;
  recording = null;
  clearInterval(timer);
  document.querySelectorAll('[data-testid="record"][aria-pressed="true"]').forEach((b) => b.setAttribute("aria-pressed", "false"));
  setStatus("adding the last examples…");
  const added = await Promise.all(adds);
  state.recording = false;
  renderClasses();
  if (added.some(Boolean)) await train();
}
for (const end of ["pointerup", "pointercancel", "blur"]) window.addEventListener(end, stopRecording);
document.addEventListener("visibilitychange", () => document.hidden && stopRecording());

function wireRecord(button, label) {
  // The button keeps the pointer while it is held, so sliding off it does not cut the recording short.
  button.addEventListener("pointerdown", (e) => {
    button.setPointerCapture(e.pointerId);
    startRecording(button, label);
  });
  for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) button.addEventListener(end, stopRecording);
  button.addEventListener("keydown", (e) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) {
      e.preventDefault();
      startRecording(button, label);
    }
  });
  button.addEventListener("keyup", (e) => {
    if (e.key === " " || e.key === "Enter") stopRecording();
  });
}

/** An uploaded image as a frame. A photo far larger than a camera frame is first brought down to 1,024 pixels
 * on its longer side, so one upload cannot grow the learner's memory by tens of megabytes. */
async function upload(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1024 / Math.max(bitmap.width, bitmap.height));
  if (scale === 1) return bitmap;
  const [resizeWidth, resizeHeight] = [Math.round(bitmap.width * scale) || 1, Math.round(bitmap.height * scale) || 1];
  const smaller = await createImageBitmap(bitmap, { resizeWidth, resizeHeight, resizeQuality: "high" }); // no second decode
  bitmap.close();
  return smaller;
}
async function addFiles(label, files) {
  const frames = [];
  for (const file of files) {
    try {
      frames.push(await upload(file));
    } catch {
      setStatus(`${file.name} is not an image this browser can read`);
    }
  }
  if (frames.length && (await addFrames(label, frames, 0))) {
    renderClasses();
    await train();
  }
}

/**
 * Sends frames to the learner, keeping every 5th (counting from `index`) aside for evaluation (encoded by the
 * learner as they arrive, like the examples); resolves with whether any example was added. Thumbnails carry the
 * examples' ids, so each can be removed again.
 */
async function addFrames(label, frames, index) {
  const heldOut = [];
  const training = [];
  frames.forEach((f, i) => ((index + i) % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1 ? heldOut : training).push(f));
  const urls = training.map(thumbnail);
  try {
    // Training frames move to the worker; held-out frames are copied (the page keeps them to save and map).
    const added = await call("addExamples", { label, frames: training, heldOut }, training);
    const kept = [...(state.heldOut.get(label) ?? []), ...heldOut.map((frame, i) => ({ frame, sample: added.heldOut[i] }))];
    state.heldOut.set(label, kept.slice(-MAX_HELD_OUT));
    const thumbs = state.thumbs.get(label) ?? [];
    added.ids.forEach((id, i) => thumbs.length < MAX_THUMBS && thumbs.push({ id, url: urls[i] }));
    state.thumbs.set(label, thumbs);
    // The page keeps its view of the class in step itself: asking the learner for every class after every
    // recorded frame would cost more than the frame.
    const known = state.classes.find((c) => c.label === label);
    if (known) Object.assign(known, { examples: known.examples + added.ids.length, ids: [...known.ids, ...added.ids] });
    const count = document.querySelector(`[data-class="${CSS.escape(label)}"] [data-testid="sample-count"]`);
    if (count && known) count.textContent = known.examples;
    return training.length > 0;
  } catch (error) {
    setStatus(`could not add the examples: ${error.message}`);
    return false;
  }
}

// ---------- training ----------
/**
 * Trains on the new examples. The class is usable — and recognition resumes — as soon as the learner is trained;
 * measuring every class again, redrawing the map and saving follow off that path (`afterTraining`).
 */
async function train() {
  if (state.busy) return;
  state.busy = true;
  renderClasses();
  state.losses = [];
  $("training-progress").value = 0;
  setStatus("training…");
  try {
    const steps = Math.max(1, Math.min(2000, Number($("steps").value) || 60));
    const result = await call("train", { steps });
    setClasses(result.classes);
    $("training-progress").value = 1;
  } catch (error) {
    setStatus(`training failed: ${error.message}`);
    return;
  } finally {
    state.busy = false;
    renderClasses();
  }
  readyStatus();
  afterTraining();
}

let bookkeeping = Promise.resolve();
let bookkeepingLeft = 0;
/**
 * Saves, measures every class on its held-out frames, redraws the map and saves the figures, in the background,
 * one training's worth after another. The status element carries `data-saving` until all of it is done.
 */
function afterTraining() {
  const saved = markSaving();
  bookkeeping = bookkeeping
    .then(async () => {
      await persist(); // the learning first: it is what a closed tab would lose
      state.history.push(await call("evaluate", { sets: await heldOutSets() }));
      drawAccuracy();
      await refreshMap();
      await persist();
    })
    .catch((error) => setStatus(`could not measure or save: ${error.message}`))
    .finally(saved);
}
/** Marks the status `data-saving` until every saver that marked it has called the function returned. */
function markSaving() {
  bookkeepingLeft++;
  $("status").dataset.saving = "true";
  return () => --bookkeepingLeft || delete $("status").dataset.saving;
}

/** The held-out frames as `[{ label, samples }]` (the latest `per` of each class), encoding any not yet encoded. */
async function heldOutSets(per = MAX_HELD_OUT) {
  const sets = [];
  for (const [label, entries] of state.heldOut) {
    const latest = entries.slice(-per);
    const missing = latest.filter((e) => !e.sample);
    if (missing.length) {
      const samples = await call("encode", { frames: missing.map((e) => e.frame) });
      missing.forEach((e, i) => (e.sample = samples[i]));
    }
    sets.push({ label, samples: latest.map((e) => e.sample) });
  }
  return sets;
}
/** The concept map: anchors, their neighbours, and the last few held-out frames of each class. */
async function refreshMap() {
  state.map = state.classes.length ? await call("conceptMap", { sets: await heldOutSets(3) }).catch(() => null) : null;
  drawMap();
}
function onProgress(report, steps) {
  state.losses = report.losses;
  $("training-progress").value = report.steps / steps;
  drawLoss();
}

// ---------- recognition loop ----------
let lastAnnounce = 0;
let frames = 0;
let fpsSince = performance.now();
async function recognise() {
  // From the first frame: before any class, the page still says what the frame looks like (the grounded prior).
  // Frames follow one another as fast as the worker answers; while there is nothing to recognise, the loop polls.
  // A photo in place of the camera is recognised once, and again whenever the learner changes.
  const source = shown();
  const due = source !== null && (source !== state.photo || state.photoDue);
  const live = state.ready && !state.busy && !state.recording && due;
  if (live) {
    try {
      state.photoDue = false;
      const current = frame(source);
      const { prediction, looksLike } = await call("predict", { frame: current, rank: 5 }, [current]);
      showPrediction(prediction, looksLike);
      frames++;
    } catch (error) {
      if (!state.busy) setStatus(`recognition paused: ${error.message}`);
    }
  }
  const now = performance.now();
  if (now - fpsSince > 1000) {
    $("fps").textContent = `${((frames * 1000) / (now - fpsSince)).toFixed(1)} fps`;
    frames = 0;
    fpsSince = now;
  }
  setTimeout(recognise, live ? 0 : 30);
}
let predictionsShown = 0;
function showPrediction(p, looksLike) {
  $("looks-like").textContent = looksLike.map((m) => m.label).join(", ") || "—";
  if (!p) return; // no class yet
  const box = $("prediction");
  box.dataset.label = p.label;
  box.dataset.score = p.score.toFixed(3);
  box.dataset.unknown = String(p.unknown);
  box.dataset.shown = String(++predictionsShown); // lets a test tell a new prediction from the last one
  const guess = looksLike[0] ? ` — looks like ${looksLike[0].label}` : "";
  $("prediction-label").textContent = p.unknown ? `not one of your classes${guess}` : `${p.label} (${Math.round(p.score * 100)}%)`;
  $("bars").replaceChildren(
    ...p.scores.map((s) => {
      const li = document.createElement("li");
      li.innerHTML = `<span>${escape(s.label)}</span><meter min="0" max="1" value="${s.score}"></meter><span>${Math.round(s.score * 100)}%</span>`;
      return li;
    }),
  );
  const now = performance.now();
  if (now - lastAnnounce > 3000) {
    lastAnnounce = now;
    const text = p.unknown ? `Not one of your classes${guess}` : `This is ${p.label}`;
    if ($("announce").textContent !== text) $("announce").textContent = text;
  }
}

// ---------- a photo in place of the camera ----------
$("try-photo").onchange = async (e) => {
  const file = e.target.files[0];
  e.target.value = ""; // the same photo can be chosen again
  if (!file) return;
  let bitmap;
  try {
    bitmap = await upload(file);
  } catch {
    return setStatus(`${file.name} is not an image this browser can read`);
  }
  showPhoto(bitmap, URL.createObjectURL(file));
};
$("back-to-camera").onclick = () => showPhoto(null, "");
/** Recognises `bitmap` (shown from `url`) instead of the camera, or the camera again when it is null. */
function showPhoto(bitmap, url) {
  const img = $("photo");
  state.photo?.close();
  if (img.src) URL.revokeObjectURL(img.src);
  [state.photo, state.photoDue] = [bitmap, Boolean(bitmap)];
  bitmap ? (img.src = url) : img.removeAttribute("src");
  img.hidden = $("back-to-camera").hidden = !bitmap;
}

// ---------- plots ----------
function plotContext(id) {
  const canvas = $(id);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui";
  ctx.fillStyle = getComputedStyle(document.body).color;
  ctx.strokeStyle = ctx.fillStyle;
  return { canvas, ctx };
}
function drawLoss() {
  const { canvas, ctx } = plotContext("loss-plot");
  const l = state.losses;
  if (!l.length) return;
  const max = Math.max(...l, 1e-6);
  ctx.beginPath();
  l.forEach((v, i) => {
    const x = 30 + (i / Math.max(1, l.length - 1)) * (canvas.width - 40);
    const y = canvas.height - 20 - (v / max) * (canvas.height - 35);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
  ctx.fillText(max.toFixed(2), 2, 14);
  ctx.fillText(`step ${l.length}`, canvas.width - 60, canvas.height - 4);
}
function drawAccuracy() {
  const { canvas, ctx } = plotContext("accuracy-plot");
  const labels = state.classes.map((c) => c.label);
  const rows = state.history;
  const latest = labels.filter((l) => typeof rows.at(-1)?.[l] === "number").map((l) => `${l} ${Math.round(rows.at(-1)[l] * 100)}%`);
  canvas.setAttribute("aria-label", `Accuracy per class after each new class${latest.length ? `; after the last training: ${latest.join(", ")}` : ""}`);
  if (!rows.length || !labels.length) return;
  const cellW = (canvas.width - 90) / rows.length;
  const cellH = Math.min(22, (canvas.height - 20) / labels.length);
  labels.forEach((label, j) => {
    ctx.fillStyle = getComputedStyle(document.body).color;
    ctx.fillText(label.slice(0, 12), 2, 14 + j * cellH + cellH / 2);
    rows.forEach((row, i) => {
      const a = row[label];
      if (a === undefined || a === null) return;
      ctx.fillStyle = `hsl(${Math.round(a * 120)}, 65%, 45%)`;
      ctx.fillRect(90 + i * cellW, 4 + j * cellH, cellW - 2, cellH - 2);
      ctx.fillStyle = "#fff";
      ctx.fillText(`${Math.round(a * 100)}`, 92 + i * cellW, 4 + j * cellH + cellH / 2 + 4);
    });
  });
}

function drawMap() {
  const { canvas, ctx } = plotContext("map-plot");
  const points = state.map;
  if (!points?.length) return;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const px = (x) => 20 + ((x - x0) / (x1 - x0 || 1)) * (canvas.width - 40);
  const py = (y) => canvas.height - 20 - ((y - y0) / (y1 - y0 || 1)) * (canvas.height - 40);
  const colour = (label) => `hsl(${[...label].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 360, 7)}, 70%, 45%)`;
  for (const p of points) {
    ctx.beginPath();
    if (p.kind === "anchor") {
      ctx.fillStyle = colour(p.label);
      ctx.arc(px(p.x), py(p.y), 6, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillText(p.label, px(p.x) + 8, py(p.y) + 4);
    } else if (p.kind === "sample") {
      ctx.strokeStyle = colour(p.label);
      ctx.arc(px(p.x), py(p.y), 4, 0, 2 * Math.PI);
      ctx.stroke();
    } else {
      ctx.fillStyle = getComputedStyle(document.body).color;
      ctx.fillRect(px(p.x) - 1, py(p.y) - 1, 2, 2);
      ctx.fillText(p.label, px(p.x) + 4, py(p.y) - 2);
    }
  }
}

// ---------- persistence (IndexedDB) ----------
/**
 * Saves the learner and what the page keeps beside it in one IndexedDB transaction, so a failed or interrupted
 * save leaves the last good state whole rather than a new snapshot beside old thumbnails and held-out frames.
 */
// Everything the page keeps between visits is one IndexedDB record, written whole (a failed write leaves the last
// good one) and versioned like the learner's snapshot inside it.
const SAVED = "saved";
const SAVED_VERSION = 1;
// The first release kept four records beside each other.
const FIRST_RELEASE_KEYS = ["snapshot", "thumbs", "history", "heldOut"];

/** The saved record, or null: this version's, or the first release's four records moved into one. */
async function loadSaved() {
  const saved = await get(SAVED);
  if (saved !== undefined) {
    if (saved?.version === SAVED_VERSION) return saved;
    // A record this page cannot read (a newer page wrote it) is set aside, not overwritten.
    await set(`${SAVED}-version-${saved?.version}`, saved);
    await del(SAVED);
    throw new Error(`it has version ${saved?.version}, which this page cannot read; it was kept under another name`);
  }
  const [snapshot, thumbs, history, heldOut] = await getMany(FIRST_RELEASE_KEYS);
  if (snapshot === undefined) return null;
  const migrated = { version: SAVED_VERSION, snapshot, thumbs: thumbs ?? [], history: history ?? [], heldOut: heldOut ?? [] };
  await set(SAVED, migrated);
  await delMany(FIRST_RELEASE_KEYS);
  return migrated;
}

async function persist() {
  try {
    const bytes = await call("save");
    const heldOut = await Promise.all([...state.heldOut].map(async ([label, entries]) => [label, await Promise.all(entries.map((e) => jpeg(e.frame)))]));
    await set(SAVED, { version: SAVED_VERSION, snapshot: bytes, thumbs: [...state.thumbs], history: state.history, heldOut });
  } catch (error) {
    setStatus(`could not save (${error?.message ?? "the browser gave up the write"}); your work is still here — export it to keep it`);
  }
}

const jpegs = new WeakMap(); // held-out frame → its saved JPEG, made once
const jpegCanvas = new OffscreenCanvas(224, 224);
async function jpeg(bitmap) {
  if (!jpegs.has(bitmap)) {
    [jpegCanvas.width, jpegCanvas.height] = [bitmap.width, bitmap.height];
    jpegCanvas.getContext("2d").drawImage(bitmap, 0, 0);
    jpegs.set(bitmap, await jpegCanvas.convertToBlob({ type: "image/jpeg", quality: 0.9 }));
  }
  return jpegs.get(bitmap);
}
async function restoreHeldOut(saved) {
  for (const [label, blobs] of saved) {
    if (!state.classes.some((c) => c.label === label)) continue;
    const frames = await Promise.all(blobs.map((b) => createImageBitmap(b).catch(() => null)));
    frames.forEach((f, i) => f && jpegs.set(f, blobs[i]));
    state.heldOut.set(label, frames.filter(Boolean).map((frame) => ({ frame, sample: null })));
  }
}

// ---------- export / import / reset ----------
$("export").onclick = async () => {
  const bytes = await call("save");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  a.download = "learner.cvm";
  a.click();
  URL.revokeObjectURL(a.href);
};
$("import").onchange = async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const described = await call("load", { bytes: new Uint8Array(await file.arrayBuffer()) });
    showSettings(described.settings);
    state.thumbs.clear();
    setClasses(described.classes);
    state.heldOut.clear();
    state.history = [];
    renderClasses();
    await persist();
    readyStatus();
  } catch (error) {
    setStatus(`import failed: ${error.message} (nothing was changed)`);
  }
  e.target.value = "";
};
$("reset").onclick = async () => {
  if (!confirm("Forget every class and example?")) return;
  await del(SAVED);
  const described = await call("reset", { backend: $("backend-choice").value, settings: settings() });
  showSettings(described.settings);
  Object.assign(state, { history: [], losses: [] });
  state.thumbs.clear();
  setClasses(described.classes);
  state.heldOut.clear();
  setBackend(described.backend, described.backendReason);
  renderClasses();
  drawAccuracy();
  drawLoss();
  await refreshMap();
  readyStatus();
};
/** A settings field changed: the learner takes the new value at once, and keeps it in what is saved. */
async function configure() {
  const saved = markSaving();
  try {
    setClasses((await call("configure", { settings: settings() })).classes);
    renderClasses();
    await persist();
  } catch (error) {
    setStatus(`settings not changed: ${error.message}`);
  } finally {
    saved();
  }
}
for (const id of ["learning-rate", "memory", "accept-rate"]) $(id).onchange = configure;
/** Shows the settings the learner runs with (a saved learner brings its own). */
function showSettings({ learningRate, memory, acceptRate }) {
  [$("learning-rate").value, $("memory").value, $("accept-rate").value] = [learningRate, memory, Math.round(acceptRate * 100)];
}
$("train").onclick = () => train();
$("add-form").onsubmit = (e) => {
  e.preventDefault();
  const name = $("concept").value.trim();
  if (name) addClass(name);
};

// ---------- start ----------
async function main() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
  const cameraReady = startCamera();
  const backend = new URLSearchParams(location.search).get("backend") ?? "auto";
  $("backend-choice").value = backend;
  setStatus("loading the model…");
  let saved = null;
  let savedError = null;
  try {
    saved = await loadSaved();
  } catch (error) {
    savedError = error?.message ?? String(error);
  }
  // A saved learner comes back with the settings it was saved with; the fields show them.
  const described = await call("init", { backend, settings: saved ? undefined : settings(), snapshot: saved?.snapshot });
  showSettings(described.settings);
  savedError ??= described.snapshotError;
  // A saved learner this page cannot restore (made with other blobs, say) is set aside, not overwritten.
  if (described.snapshotError && saved) await set(`${SAVED}-unrestored`, saved);
  if (savedError) setStatus(`the saved state could not be restored (${savedError}); it was kept aside, starting fresh`);
  else if (described.settingsError) setStatus(`your saved classes are back, with their own settings: ${described.settingsError}`);
  state.thumbs = new Map(saved?.thumbs ?? []);
  setClasses(described.classes);
  state.history = saved?.history ?? [];
  await restoreHeldOut(saved?.heldOut ?? []);
  setBackend(described.backend, described.backendReason);
  const vocabulary = await call("vocabulary");
  $("vocabulary").replaceChildren(...vocabulary.map((v) => Object.assign(document.createElement("option"), { value: v })));
  renderClasses();
  drawAccuracy();
  await refreshMap();
  await cameraReady;
  state.ready = true;
  if (!savedError && !described.settingsError) readyStatus();
  recognise();
}
main().catch((error) => setStatus(`could not start: ${error.message}`));
