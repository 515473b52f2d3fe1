// Page side of the browser benchmarks; run.mjs calls these through `window.bench`.
//
// trainStep: one training step of the from-scratch student (3 conv blocks + hidden layer + projection into the
// 576-d concept space, cosine logits, batch 32 of 32×32 RGB) — in this learner, and the same network and loss in
// TensorFlow.js. Each step includes uploading the batch and reading the loss back, as a training loop must.
// trunk: one forward pass of EfficientNet-Lite0 (224×224 RGB → 1280 pooled features, batch 1, read back) in this
// learner, and the same architecture in TensorFlow.js, built from fused ops and from layers.
// webcam: the pretrained trunk + adapter in this learner, as the demo page uses it.

import init, { Learner } from "/pkg/index.js";
import { CONCEPTS, STUDENT, oursTrunk, randomRgba, timed } from "./trunk.js";

const SIDE = 32;
const BATCH = 32;
const DIM = 576;
const RECORD_FPS = 8; // the demo page's recording rate

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function oursTrainStep(backend, warmup, steps) {
  await init();
  const learner = await Learner.create({ concepts: CONCEPTS, backend, settings: { inputSize: SIDE, batchSize: BATCH, seed: 1 } });
  // Two classes, 16 examples each: one experience of 32 pending examples, so every step is a batch of 32.
  for (const [k, label] of ["cat", "dog"].entries()) {
    learner.addClass(label);
    for (let i = 0; i < BATCH / 2; i++) await learner.addExample(label, randomRgba(SIDE, 1000 * k + i + 1), SIDE, SIDE);
  }
  const times = [];
  let last = performance.now();
  await learner.train({
    steps: warmup + steps,
    reportEvery: 1,
    onProgress: () => {
      const now = performance.now();
      times.push(now - last);
      last = now;
    },
  });
  const backendName = learner.backend;
  learner.free();
  return { backend: backendName, times: times.slice(warmup) };
}

function tfNetwork() {
  const tf = globalThis.tf;
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [SIDE, SIDE, 3], filters: 16, kernelSize: 3, padding: "same", activation: "relu" }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: "same", activation: "relu" }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: "same", activation: "relu" }));
  m.add(tf.layers.globalAveragePooling2d({}));
  m.add(tf.layers.dense({ units: 128, activation: "relu" }));
  m.add(tf.layers.dense({ units: DIM }));
  return m;
}

async function tfjsTrainStep(backend, warmup, steps) {
  const tf = globalThis.tf;
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
  await tf.ready();
  const model = tfNetwork();
  const optimizer = tf.train.adam(1e-3);
  const anchors = tf.tidy(() => {
    const a = tf.randomNormal([2, DIM], 0, 1, "float32", 7);
    return a.div(a.norm("euclidean", 1, true));
  });
  const labels = Array.from({ length: BATCH }, (_, i) => i % 2);
  const images = Array.from({ length: BATCH }, (_, i) => randomRgba(SIDE, i + 1));
  const pixels = new Float32Array(BATCH * SIDE * SIDE * 3);
  const times = [];
  for (let step = 0; step < warmup + steps; step++) {
    const started = performance.now();
    images.forEach((img, b) => {
      for (let p = 0; p < SIDE * SIDE; p++) for (let c = 0; c < 3; c++) pixels[(b * SIDE * SIDE + p) * 3 + c] = img[p * 4 + c] / 255;
    });
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(pixels, [BATCH, SIDE, SIDE, 3]);
      const y = tf.tensor1d(labels, "int32");
      return optimizer.minimize(() => {
        const z = model.apply(x);
        const zn = z.div(z.norm("euclidean", 1, true).add(1e-8));
        const logits = zn.matMul(anchors.transpose()).mul(16);
        const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, 2), logits);
        const mapping = tf.scalar(1).sub(zn.mul(tf.gather(anchors, y)).sum(1)).mean();
        return ce.add(mapping.mul(0.5));
      }, true);
    });
    await loss.data();
    loss.dispose();
    times.push(performance.now() - started);
  }
  model.dispose();
  optimizer.dispose();
  anchors.dispose();
  return { backend: tf.getBackend(), times: times.slice(warmup) };
}

/**
 * The demo's scenario: 5 classes known, then a sixth from `shots` frames arriving at the page's recording rate
 * (8 frames/s), each added as it arrives, and `steps` steps; then frame latency.
 */
async function webcam(backend, shots, steps, frames) {
  await init();
  const learner = await Learner.create({ concepts: CONCEPTS, student: STUDENT, backend });
  // Whole 640×480 camera frames, as the demo page sends them: the learner crops and scales them to 224.
  const [width, height] = [640, 480];
  const frame = (seed) => randomRgba(width, seed, height);
  const names = ["cat", "dog", "cup", "shoe", "book"];
  for (const [k, name] of names.entries()) {
    learner.addClass(name);
    for (let i = 0; i < shots; i++) await learner.addExample(name, frame(100 * k + i + 1), width, height);
    await learner.train({ steps });
  }
  learner.addClass("apple");
  const period = 1000 / RECORD_FPS;
  const started = performance.now();
  let featuresMs = 0;
  for (let i = 0; i < shots; i++) {
    const wait = started + i * period - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const t = performance.now();
    await learner.addExample("apple", frame(900 + i), width, height);
    featuresMs += performance.now() - t;
  }
  const lastFrame = started + (shots - 1) * period;
  const added = performance.now();
  await learner.train({ steps });
  const trained = performance.now();
  const times = [];
  for (let i = 0; i < frames + 2; i++) {
    const t = performance.now();
    await learner.predict(frame(5000 + i), width, height);
    if (i >= 2) times.push(performance.now() - t);
  }
  const result = { backend: learner.backend, shots, steps, recordFps: RECORD_FPS, featuresMs, backlogMs: added - lastFrame, trainMs: trained - added, afterLastMs: trained - lastFrame, frameMs: median(times), frameTimes: times };
  learner.free();
  return result;
}

/** The trunk's forward pass with the threads build, in a worker: a page's main thread may not wait on shared
 * memory, which rayon's pool does (the page must be cross-origin isolated). */
function oursTrunkThreads(threads, warmup, runs) {
  const worker = new Worker("./trunk-worker.js", { type: "module" });
  return new Promise((resolve) => {
    worker.onmessage = ({ data }) => resolve(data);
    worker.onerror = (event) => resolve({ error: event.message ?? "the worker failed to start" });
    worker.postMessage({ threads, warmup, runs });
  }).finally(() => worker.terminate());
}

// EfficientNet-Lite0: stem, then (expansion, kernel, stride, outputs, repeats) per stage, then the 1280 head.
const LITE0 = [[1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1]];

/** Every block of Lite0 as `{ expansion, kernel, stride, input, output }`. */
function lite0Blocks() {
  const blocks = [];
  let input = 32;
  for (const [expansion, kernel, stride, output, repeats] of LITE0) {
    for (let r = 0; r < repeats; r++) {
      blocks.push({ expansion, kernel, stride: r === 0 ? stride : 1, input, output });
      input = output;
    }
  }
  return blocks;
}

/** Lite0 from fused ops (convolution + bias + ReLU6 in one kernel where the backend has one), random weights. */
function tfjsLite0Fused() {
  const tf = globalThis.tf;
  const w = (shape) => tf.randomNormal(shape, 0, Math.sqrt(2 / shape.slice(0, -1).reduce((a, b) => a * b, 1)));
  const b = (n) => tf.zeros([n]);
  const conv = (x, weights, stride, relu6) =>
    tf.fused.conv2d({ x, filter: weights.w, strides: stride, pad: "same", bias: weights.b, activation: relu6 ? "relu6" : "linear" });
  const stem = { w: w([3, 3, 3, 32]), b: b(32) };
  const blocks = lite0Blocks().map(({ expansion, kernel, stride, input, output }) => {
    const hidden = input * expansion;
    return {
      stride,
      residual: stride === 1 && input === output,
      expand: expansion === 1 ? null : { w: w([1, 1, input, hidden]), b: b(hidden) },
      depthwise: { w: w([kernel, kernel, hidden, 1]), b: b(hidden) },
      project: { w: w([1, 1, hidden, output]), b: b(output) },
    };
  });
  const head = { w: w([1, 1, 320, 1280]), b: b(1280) };
  return (x) =>
    tf.tidy(() => {
      let h = conv(x, stem, 2, true);
      for (const block of blocks) {
        let y = block.expand ? conv(h, block.expand, 1, true) : h;
        y = tf.fused.depthwiseConv2d({ x: y, filter: block.depthwise.w, strides: block.stride, pad: "same", bias: block.depthwise.b, activation: "relu6" });
        y = conv(y, block.project, 1, false);
        h = block.residual ? y.add(h) : y;
      }
      return conv(h, head, 1, true).mean([1, 2]);
    });
}

/** Lite0 from `tf.layers` (a layer per convolution, ReLU6 as the layer's activation), random weights. */
function tfjsLite0Layers() {
  const tf = globalThis.tf;
  const input = tf.input({ shape: [224, 224, 3] });
  const conv = (x, filters, kernel, stride, activation) =>
    tf.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding: "same", activation }).apply(x);
  let h = conv(input, 32, 3, 2, "relu6");
  for (const { expansion, kernel, stride, input: inputs, output } of lite0Blocks()) {
    let y = expansion === 1 ? h : conv(h, inputs * expansion, 1, 1, "relu6");
    y = tf.layers.depthwiseConv2d({ kernelSize: kernel, strides: stride, padding: "same", activation: "relu6" }).apply(y);
    y = conv(y, output, 1, 1, "linear");
    h = stride === 1 && inputs === output ? tf.layers.add().apply([y, h]) : y;
  }
  h = tf.layers.globalAveragePooling2d({}).apply(conv(h, 1280, 1, 1, "relu6"));
  const model = tf.model({ inputs: input, outputs: h });
  return (x) => model.predict(x);
}

/** The same forward pass in TensorFlow.js on `backend`, built from fused ops or from layers. */
async function tfjsTrunk(backend, build, warmup, runs, threads = 1) {
  const tf = globalThis.tf;
  if (backend === "wasm") {
    tf.wasm.setWasmPaths("/node_modules/@tensorflow/tfjs-backend-wasm/dist/");
    // Its threaded build is loaded only in a cross-origin-isolated page, with half the cores unless told.
    tf.wasm.setThreadsCount(threads);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
  await tf.ready();
  const forward = build === "fused" ? tfjsLite0Fused() : tfjsLite0Layers();
  // The frames as the network takes them (normalised, channel-last), prepared outside the timing.
  const frames = [1, 2].map((seed) => {
    const rgba = randomRgba(224, seed);
    const pixels = new Float32Array(224 * 224 * 3);
    for (let p = 0; p < 224 * 224; p++) for (let c = 0; c < 3; c++) pixels[p * 3 + c] = (rgba[p * 4 + c] - 127) / 128;
    return pixels;
  });
  const times = await timed(async (i) => {
    const x = tf.tensor4d(frames[i % 2], [1, 224, 224, 3]);
    const y = forward(x);
    await y.data();
    tf.dispose([x, y]);
  }, warmup, runs);
  return { backend: tf.getBackend(), threads: backend === "wasm" ? tf.wasm.getThreadsCount?.() : undefined, times };
}

/** The cores the browser reports: how many threads the threaded rows use. */
const cores = () => navigator.hardwareConcurrency;

window.bench = { cores, oursTrainStep, tfjsTrainStep, oursTrunk, oursTrunkThreads, tfjsTrunk, webcam };
document.getElementById("ready").textContent = "ready";
