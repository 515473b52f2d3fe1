// The worker owns the learner; the page owns the UI. What they say to each other is protocol.js: a handler here
// for each of its requests, checked at start-up.

import { STOP, checkHandlers, isRequest, toWire } from "./protocol.js";
// The package loads its CPU-only build first and fetches the one with WebGPU only when a learner needs it.
import init, { Learner } from "./generated/pkg/index.js";

const CONCEPTS = "./generated/concepts.safetensors";
const TRUNK = "./generated/trunk.safetensors";

let learner = null;
let options = null;
let lastGood = null; // snapshot bytes after the last successful change, for recovering on the CPU

async function open(backend, settings, snapshot) {
  options = { concepts: CONCEPTS, student: TRUNK, backend, settings };
  learner?.free();
  learner = null;
  await init();
  // A snapshot keeps the settings it was saved with unless `settings` gives others.
  learner = snapshot ? await Learner.load(snapshot, options) : await Learner.create(options);
  lastGood = snapshot ?? null;
  return describe();
}

/** Backend (and why it runs), settings and classes, each class with the ids of the examples the learner still holds. */
function describe() {
  return { backend: learner.backend, backendReason: learner.backendReason, settings: learner.settings(), classes: learner.classes().map((c) => ({ ...c, ids: learner.examples(c.label) })) };
}

/** Runs `work`; if WebGPU fails underneath it, reopens the last good state on the CPU and retries once. */
async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (learner?.backend !== "webgpu" || !/device|gpu|lost|buffer/i.test(String(error?.message ?? error))) throw error;
    await open("cpu", options.settings, lastGood);
    postMessage({ event: "fallback", reason: String(error?.message ?? error) });
    return await work();
  }
}

/** What the learner stores of each frame (trunk features): measured again later without another trunk pass. */
async function encodeAll(frames) {
  const samples = [];
  for (const frame of frames) samples.push(await learner.encode(frame));
  return samples;
}
/** `[{ label, samples }]` → all samples end to end, and a label per sample. */
const joined = (sets) => {
  const all = sets.flatMap((s) => s.samples);
  const out = new Float32Array(all.reduce((n, s) => n + s.length, 0));
  all.reduce((at, s) => (out.set(s, at), at + s.length), 0);
  return out;
};
const labels = (sets) => sets.flatMap((s) => s.samples.map(() => s.label));

const ops = {
  async init({ backend, settings, snapshot }) {
    try {
      return await open(backend, settings, snapshot);
    } catch (error) {
      if (!snapshot) throw error;
      // A corrupt or newer snapshot: start fresh, and say why.
      const fresh = await open(backend, settings, null);
      return { ...fresh, snapshotError: String(error?.message ?? error) };
    }
  },
  vocabulary: () => learner.vocabulary(),
  addClass: ({ name }) => {
    learner.addClass(name);
    return describe();
  },
  removeClass: ({ label }) => {
    learner.removeClass(label);
    return describe();
  },
  /** Adds `frames` as examples (resolves with their ids) and encodes `heldOut` (kept aside, never trained on). */
  addExamples: ({ label, frames, heldOut = [] }) =>
    guarded(async () => {
      const ids = [];
      for (const frame of frames) ids.push(await learner.addExample(label, frame));
      return { ids, heldOut: await encodeAll(heldOut) };
    }),
  encode: ({ frames }) => guarded(() => encodeAll(frames)),
  removeExample: ({ example }) => {
    learner.removeExample(example);
    return describe();
  },
  train: ({ steps }) =>
    guarded(async () => {
      const report = await learner.train({ steps, reportEvery: 5, onProgress: (r) => postMessage({ event: "progress", report: r, steps }) });
      lastGood = await learner.save();
      return { report, ...describe() };
    }),
  /** One pass over a live frame: the prediction (null before the first class) and, with `rank`, the nearest concepts. */
  predict: ({ frame, rank }) => guarded(() => learner.recognise(frame, rank)),
  /** Accuracy of each class on its held-out frames, from their encodings: { label → fraction correct }. */
  evaluate: ({ sets }) => guarded(() => learner.classAccuracy(joined(sets), labels(sets))),
  /** Map of anchors, neighbouring concepts and a few encoded frames per class. */
  conceptMap: ({ sets }) => guarded(() => learner.conceptMap(joined(sets), labels(sets), 3)),
  configure: ({ settings }) => {
    learner.configure(settings);
    return describe();
  },
  save: () => learner.save(),
  load: async ({ bytes }) => {
    const previous = options;
    try {
      return await open(previous.backend, undefined, bytes); // an imported learner brings its own settings
    } catch (error) {
      await open(previous.backend, previous.settings, lastGood);
      throw error;
    }
  },
  reset: ({ backend, settings }) => open(backend, settings, null),
};
// A handler missing or added without the protocol fails here, before any request: the page cannot start.
checkHandlers(ops);

// One message at a time, in order: the learner serves one call at a time.
let queue = Promise.resolve();
onmessage = ({ data }) => {
  const { id, op, ...args } = data;
  if (op === STOP) {
    learner?.stopTraining();
    return;
  }
  queue = queue.then(async () => {
    try {
      if (!isRequest(op)) throw new Error(`“${op}” is not a request of the protocol`);
      const result = await ops[op](args);
      const transfer = result instanceof Uint8Array ? [result.buffer] : [];
      postMessage({ id, ok: true, result }, transfer);
    } catch (error) {
      postMessage({ id, ok: false, error: toWire(error) });
    } finally {
      for (const frame of [args.frame, ...(args.frames ?? []), ...(args.heldOut ?? [])]) frame?.close?.();
    }
  });
};
