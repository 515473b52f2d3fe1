// Teaches two classes from generated images, then checks that fresh images are recognised.
import init, { Learner } from "cvm-wasm";

const SIDE = 32;
const params = new URLSearchParams(location.search);

/** A seeded PRNG (mulberry32), so every run sees the same images. */
let state = 12345;
function random() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A SIDE×SIDE RGBA image: horizontal stripes ("cat") or vertical stripes ("dog"), random phase and noise. */
function image(kind) {
  const phase = Math.floor(random() * 4);
  const data = new Uint8ClampedArray(SIDE * SIDE * 4);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const on = ((kind === "cat" ? y : x) + phase) % 4 < 2;
      const v = (on ? 200 : 40) + Math.floor(random() * 40 - 20);
      data.set([v, v, v, 255], (y * SIDE + x) * 4);
    }
  }
  return new ImageData(data, SIDE, SIDE);
}

async function run() {
  await init();
  const learner = await Learner.create({
    concepts: params.get("concepts"),
    backend: params.get("backend") ?? "auto",
    settings: { inputSize: SIDE, seed: 3, learningRate: 0.003, batchSize: Number(params.get("batch") ?? 32) },
  });
  for (const label of ["cat", "dog"]) {
    await learner.addClass(label);
    for (let i = 0; i < 24; i++) await learner.addExample(label, image(label));
    await learner.train({ steps: 60 });
  }
  let correct = 0;
  for (let i = 0; i < 20; i++) {
    const label = i % 2 ? "dog" : "cat";
    const prediction = await learner.predict(image(label));
    if (prediction.scores[0].label === label) correct++;
  }
  return { backend: learner.backend, accuracy: correct / 20 };
}

run().then(
  (r) => { document.getElementById("result").textContent = JSON.stringify(r); },
  (e) => { document.getElementById("result").textContent = JSON.stringify({ error: String(e?.message ?? e) }); },
);
