// The page's entry point: start-up, and the wiring of the page's controls to the modules of page/. The learner
// lives in worker.js. A module imports only modules on lines below its own, so there is no cycle:
//
//   app.js                            start-up, wiring
//   classes.js  keep.js               the class cards; export, import, reset, settings changed
//   recording.js  live.js             examples (recorded, uploaded, held out); recognition as it happens
//   training.js                       training, then measuring and saving in the background
//   plots.js  camera.js               the figures; the camera, a photo tried, frames
//   state.js                          what the page holds; `apply`, the one way a change of the learner comes in
//   settings.js  storage.js  worker-client.js (→ ../protocol.js, shared with worker.js)
//   dom.js
//
// The cards are drawn from the state, but state.js cannot import classes.js (which imports it): app.js registers
// the cards' renderer with state.js (`onRender`), and every module redraws through `render`.

import { addClass, renderClasses } from "./page/classes.js";
import { showPhoto, startCamera, tryPhoto } from "./page/camera.js";
import { $, setBackend, setStatus } from "./page/dom.js";
import { configure, exportLearner, importLearner, reset } from "./page/keep.js";
import { recognise } from "./page/live.js";
import { drawAccuracy, refreshMap } from "./page/plots.js";
import { stopRecording } from "./page/recording.js";
import { settings } from "./page/settings.js";
import { apply, onRender, readyStatus, state } from "./page/state.js";
import { loadSaved, restoreHeldOut, setAsideUnrestored } from "./page/storage.js";
import { showProgress, train } from "./page/training.js";
import { call, on } from "./page/worker-client.js";

onRender(renderClasses);
on("progress", showProgress);
on("fallback", () => setBackend("cpu", "WebGPU stopped working", "WebGPU stopped working; continuing on the CPU"));

// A recording ends on a release anywhere, and when the page loses the visitor's attention.
for (const end of ["pointerup", "pointercancel", "blur"]) window.addEventListener(end, stopRecording);
document.addEventListener("visibilitychange", () => document.hidden && stopRecording());

$("try-photo").onchange = tryPhoto;
$("back-to-camera").onclick = () => showPhoto(null, "");
$("export").onclick = exportLearner;
$("import").onchange = importLearner;
$("reset").onclick = reset;
for (const id of ["learning-rate", "memory", "accept-rate"]) $(id).onchange = configure;
$("train").onclick = () => train();
$("add-form").onsubmit = (e) => {
  e.preventDefault();
  const name = $("concept").value.trim();
  if (name) addClass(name);
};

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
  savedError ??= described.snapshotError;
  // A saved learner this page cannot restore (made with other blobs, say) is set aside, not overwritten.
  if (described.snapshotError && saved) await setAsideUnrestored(saved);
  if (savedError) setStatus(`the saved state could not be restored (${savedError}); it was kept aside, starting fresh`);
  const heldOut = await restoreHeldOut(saved?.heldOut ?? [], described.classes.map((c) => c.label));
  await apply(described, { opened: { thumbs: saved?.thumbs, history: saved?.history, heldOut }, save: false, status: null });
  const vocabulary = await call("vocabulary");
  $("vocabulary").replaceChildren(...vocabulary.map((v) => Object.assign(document.createElement("option"), { value: v })));
  drawAccuracy();
  await refreshMap();
  await cameraReady;
  state.ready = true;
  if (!savedError) readyStatus();
  recognise();
}
main().catch((error) => setStatus(`could not start: ${error.message}`));
