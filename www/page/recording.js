// Examples for a class: press-and-hold recording from the camera and uploaded images, each frame either an example
// or (every HOLD_OUT_EVERY-th) held out to measure the class on.

import { setStatus } from "./dom.js";
import { frame, showPhoto, thumbnail, upload } from "./camera.js";
import { MAX_HELD_OUT, render, state } from "./state.js";
import { train } from "./training.js";
import { call } from "./worker-client.js";

const HOLD_OUT_EVERY = 5; // every 5th recorded frame is kept aside to measure accuracy per class
const RECORD_FPS = 8;
const MAX_RECORDED = 10 * RECORD_FPS; // a recording ends by itself after 10 s
const MAX_THUMBS = 24;

/**
 * Press-and-hold recording (pointer, or Space/Enter held while the button has focus). Each frame goes to the
 * learner as it is recorded, so its features are ready by the time the button is released; training follows.
 * One recording at a time, owned by the page rather than by a button, so a card re-rendered mid-hold cannot lose
 * its release: it ends on a release anywhere, when the window loses focus or the page is hidden (app.js wires
 * those to `stopRecording`), and after MAX_RECORDED frames.
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

export async function stopRecording() {
  if (!recording) return;
  const { timer, adds } = recording;
  recording = null;
  clearInterval(timer);
  document.querySelectorAll('[data-testid="record"][aria-pressed="true"]').forEach((b) => b.setAttribute("aria-pressed", "false"));
  setStatus("adding the last examples…");
  const added = await Promise.all(adds);
  state.recording = false;
  render();
  if (added.some(Boolean)) await train();
}

/** Makes a class card's Record button record `label` while it is held. */
export function wireRecord(button, label) {
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

/** Uploaded (or dropped) image files as examples of `label`; training follows. */
export async function addFiles(label, files) {
  const frames = [];
  for (const file of files) {
    try {
      frames.push(await upload(file));
    } catch {
      setStatus(`${file.name} is not an image this browser can read`);
    }
  }
  if (frames.length && (await addFrames(label, frames, 0))) {
    render();
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
    // The page keeps its view of the class in step itself (not through `apply`): asking the learner for every
    // class after every recorded frame would cost more than the frame.
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
