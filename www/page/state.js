// What the page holds beside the learner, and the one place a change to the learner is taken in: `apply` takes
// the worker's description after a change, redraws what depends on it and saves.

import { $, setBackend, setStatus } from "./dom.js";
import { showSettings } from "./settings.js";
import { writeSaved } from "./storage.js";
import { call } from "./worker-client.js";

export const MAX_HELD_OUT = 12; // held-out frames kept per class

export const state = {
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

// The class cards are drawn from this state by classes.js, which imports this module: app.js registers their
// renderer here, and every module redraws them through `render` without importing classes.js.
const renderers = [];
export const onRender = (render) => renderers.push(render);
export const render = () => renderers.forEach((r) => r());

/**
 * Takes in a change the worker describes: its classes (dropping thumbnails of examples and held-out frames of
 * classes the learner no longer holds), redraws, saves unless `save` is false, and says the page is ready unless
 * `status` gives what to say instead (null: leave the status as it is).
 *
 * A learner the worker opened in place of the last (`opened`: the start, an import, a reset) also shows its
 * settings and backend, and comes with what the page keeps beside it: `opened` gives that, empty for a new one.
 *
 * @param {import("../protocol.js").Described} described
 * @param {{ save?: boolean, status?: string | null,
 *   opened?: { thumbs?: Iterable<[string, { id: number, url: string }[]]>, history?: Record<string, number>[], heldOut?: Map<string, any[]> } }} [how]
 */
export async function apply(described, { save = true, status, opened } = {}) {
  if (opened) {
    showSettings(described.settings);
    state.thumbs = new Map(opened.thumbs ?? []);
    state.history = opened.history ?? [];
    state.heldOut = opened.heldOut ?? new Map();
    setBackend(described.backend, described.backendReason);
  }
  setClasses(described.classes);
  render();
  if (save) await persist();
  if (status === undefined) readyStatus();
  else if (status !== null) setStatus(status);
}

/** Takes in the worker's view of the classes, dropping what the page keeps of what the learner no longer holds. */
function setClasses(classes) {
  state.classes = classes;
  state.photoDue = Boolean(state.photo); // the learner changed: recognise the photo again
  const labels = new Set(classes.map((c) => c.label));
  for (const c of classes) {
    const held = new Set(c.ids);
    state.thumbs.set(c.label, (state.thumbs.get(c.label) ?? []).filter((t) => held.has(t.id)));
  }
  for (const kept of [state.thumbs, state.heldOut]) for (const label of kept.keys()) if (!labels.has(label)) kept.delete(label);
}

/** Saves the learner and what the page keeps beside it; a failure is reported, the work stays in the page. */
export async function persist() {
  try {
    const snapshot = await call("save");
    await writeSaved({ snapshot, thumbs: state.thumbs, history: state.history, heldOut: state.heldOut });
  } catch (error) {
    setStatus(`could not save (${error?.message ?? "the browser gave up the write"}); your work is still here — export it to keep it`);
  }
}

export function readyStatus() {
  if (state.recording || state.busy) return; // those report their own progress
  const trained = state.classes.some((c) => c.examples > 0);
  setStatus(state.classes.length === 0 ? "ready: add a class" : trained ? "ready" : "ready: record examples");
}

let savingLeft = 0;
/** Marks the status `data-saving` until every saver that marked it has called the function returned. */
export function markSaving() {
  savingLeft++;
  $("status").dataset.saving = "true";
  return () => --savingLeft || delete $("status").dataset.saving;
}
