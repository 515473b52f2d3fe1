// Page side of the browser benchmarks; run.mjs calls these through `window.bench`.
//
// trainStep: one training step of the from-scratch student (3 conv blocks + hidden layer + projection into the
// 576-d concept space, cosine logits, batch 32 of 32×32 RGB) — in this learner, and the same network and loss in
// TensorFlow.js. Each step includes uploading the batch and reading the loss back, as a training loop must.
// webcam: the pretrained trunk + adapter in this learner, as the demo page uses it.

import init, { Learner } from "/pkg/cvm_wasm.js";

const CONCEPTS = "/assets/concepts-smollm2.safetensors";
const STUDENT = "/assets/student-efficientnet-lite0.safetensors";
const SIDE = 32;
const BATCH = 32;
const DIM = 576;
const RECORD_FPS = 8; // the demo page's recording rate

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function randomRgba(side, seed, height = side) {
  let s = seed >>> 0 || 1;
  const data = new Uint8Array(side * height * 4);
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (i & 3) === 3 ? 255 : s & 255;
  }
  return data;
}

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

window.bench = { oursTrainStep, tfjsTrainStep, webcam };
document.getElementById("ready").textContent = "ready";
