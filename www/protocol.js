// The page ⇄ worker protocol, the one list both sides import: the page's worker client refuses a request not named
// here, and the worker checks at start-up that it handles exactly these, so the two cannot drift apart.
//
// Messages: the page sends `{ id, op, ...args }`; the worker answers each, in the order sent, with
// `{ id, ok: true, result }` or `{ id, ok: false, error: WireError }`, and sends events (`{ event, ... }`) unasked.
// `{ op: "stop" }` is out of band: no id, no answer, handled at once rather than after the requests queued before it.

// Results the package makes are passed on as it makes them; the types below name the fields the page reads (the
// package's declarations have them all).
/** @typedef {"webgpu" | "cpu"} Backend */
/** @typedef {{ learningRate?: number, memory?: number, acceptRate?: number }} Settings  a field left out keeps the learner's own */
/** @typedef {{ label: string, examples: number, ids: number[] }} ClassView  with the ids of the examples the learner holds */
/**
 * The learner after a change: what the page shows of it (`settings`: all the learner's, those above among them).
 * @typedef {{ backend: Backend, backendReason: string, settings: Required<Settings>, classes: ClassView[] }} Described
 */
/** @typedef {{ steps: number, losses: number[], accuracy: number }} TrainReport */
/**
 * @typedef {{ prediction: { label: string, score: number, unknown: boolean, scores: { label: string, score: number }[] } | null,
 *   looksLike: { label: string, similarity: number }[] }} Recognition  `prediction` is null before the first class
 */
/** @typedef {{ x: number, y: number, kind: "anchor" | "concept" | "sample", label: string }} MapPoint */
/** @typedef {{ label: string, samples: Float32Array[] }} SampleSet  encoded frames of one class (see `encode`) */
/** @typedef {ImageBitmap} Frame  transferred to the worker, or copied where the page keeps it; closed there after use */

/**
 * Every request, as `{ args, result }`.
 * @typedef {object} Requests
 * @property {{ args: { backend: "auto" | Backend, settings?: Settings, snapshot?: Uint8Array },
 *   result: Described & { snapshotError?: string } }} init  opens the learner, from `snapshot` if given; a snapshot
 *   that cannot be restored starts a fresh one, and `snapshotError` says why
 * @property {{ args: {}, result: string[] }} vocabulary  the names a class can take
 * @property {{ args: { name: string }, result: Described }} addClass  fails with `suggestions` for an unknown name
 * @property {{ args: { label: string }, result: Described }} removeClass
 * @property {{ args: { label: string, frames: Frame[], heldOut?: Frame[] }, result: { ids: number[], heldOut: Float32Array[] } }} addExamples
 *   adds `frames` as examples and encodes `heldOut` (kept aside, never trained on)
 * @property {{ args: { frames: Frame[] }, result: Float32Array[] }} encode  what the learner stores of each frame
 * @property {{ args: { example: number }, result: Described }} removeExample
 * @property {{ args: { steps: number }, result: Described & { report: TrainReport } }} train  sends `progress` events meanwhile
 * @property {{ args: { frame: Frame, rank: number }, result: Recognition }} predict  with `rank` > 0, the nearest concepts too
 * @property {{ args: { sets: SampleSet[] }, result: Record<string, number> }} evaluate  accuracy per class on its sets
 * @property {{ args: { sets: SampleSet[] }, result: MapPoint[] }} conceptMap  anchors, their neighbours and the sets' samples
 * @property {{ args: { settings: Settings }, result: Described }} configure  the learner takes the settings at once
 * @property {{ args: {}, result: Uint8Array }} save  a snapshot of the learner
 * @property {{ args: { bytes: Uint8Array }, result: Described }} load  an exported snapshot, with its own settings; on
 *   failure the learner before it stays
 * @property {{ args: { backend: "auto" | Backend, settings?: Settings }, result: Described }} reset  a fresh learner
 */
/** @type {readonly (keyof Requests)[]} */
export const REQUESTS = Object.freeze([
  "init",
  "vocabulary",
  "addClass",
  "removeClass",
  "addExamples",
  "encode",
  "removeExample",
  "train",
  "predict",
  "evaluate",
  "conceptMap",
  "configure",
  "save",
  "load",
  "reset",
]);

/** Stops a training in progress early; answered by the `train` request ending. */
export const STOP = "stop";

/**
 * Every event, as what it carries besides `event`.
 * @typedef {object} Events
 * @property {{ report: TrainReport, steps: number }} progress  during `train`: the report so far, and the steps asked
 * @property {{ reason: string }} fallback  WebGPU failed; the learner was reopened on the CPU from its last good state
 */
/** @type {readonly (keyof Events)[]} */
export const EVENTS = Object.freeze(["progress", "fallback"]);

/** @param {unknown} op */
export const isRequest = (op) => REQUESTS.includes(/** @type {any} */ (op));

/**
 * A failed request's error as it crosses the port (an Error's own fields do not survive postMessage): the page
 * shows `message`, and offers `suggestions` (names close to an unknown one) as buttons.
 * @typedef {{ message: string, name: string, suggestions?: string[] }} WireError
 */
/** @returns {WireError} */
export function toWire(error) {
  return { message: String(error?.message ?? error), name: error?.name ?? "Error", suggestions: error?.suggestions };
}
/** @param {WireError} wire */
export function fromWire(wire) {
  return Object.assign(new Error(wire.message), wire);
}

/** Throws unless `handlers` has a function for every request and nothing else. */
export function checkHandlers(handlers) {
  const names = Object.keys(handlers);
  const missing = REQUESTS.filter((op) => typeof handlers[op] !== "function");
  const extra = names.filter((op) => !isRequest(op));
  if (missing.length || extra.length) {
    throw new Error(`the worker's handlers do not match the protocol (missing: ${missing.join(", ") || "none"}; not in it: ${extra.join(", ") || "none"})`);
  }
}
