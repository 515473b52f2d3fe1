// Benchmark (not a test): does a long session leak? The npm package in Node on the CPU backend, with the
// pretrained student as the page uses it: 2,000 training steps (classes taught one after another, 60 steps each)
// and 10,000 predictions, the wasm memory sampled as it goes.
//   node bench-soak.mjs [--steps N] [--predictions N] [--out FILE]     (run by `cargo xtask bench soak`)
// Needs CVM_ASSETS (concept and student blobs) and the package in ../pkg.

import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const assets = process.env.CVM_ASSETS;
if (!assets) throw new Error("CVM_ASSETS is unset: run through `cargo xtask bench soak`");
const STEPS = Number(option("--steps", 2000));
const PREDICTIONS = Number(option("--predictions", 10000));

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "pkg");
const { default: init, Learner } = await import(join(pkg, "cvm_wasm.js"));
const wasm = await init({ module_or_path: readFileSync(join(pkg, "cvm_wasm_bg.wasm")) });
const mb = () => wasm.memory.buffer.byteLength / 2 ** 20;
const learner = await Learner.create({
  concepts: new Uint8Array(readFileSync(join(assets, "concepts-smollm2.safetensors"))),
  student: new Uint8Array(readFileSync(join(assets, "student-efficientnet-lite0.safetensors"))),
  backend: "cpu",
});
const SIDE = 224;
const frame = (seed) => Uint8Array.from({ length: SIDE * SIDE * 4 }, (_, i) => (i * 31 + seed * 97 + ((i >> 9) % 7) * 13) % 251);
const NAMES = ["cat", "dog", "strawberry", "drum", "bird", "beaker", "jeep", "yurt", "cannon", "dalmatian"];
const samples = [];
const sample = (phase, done) => {
  samples.push({ phase, done, wasmMB: Number(mb().toFixed(1)), heapMB: Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)) });
  console.log(`| ${phase} | ${done} | ${mb().toFixed(1)} | ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} |`);
};
console.log(`# soak — ${cpus()[0].model} (${cpus().length} threads), Node ${process.version}, CPU backend, EfficientNet-Lite0 + adapter`);
console.log("\n| phase | done | wasm memory (MB) | JS heap (MB) |\n|---|---|---|---|");
sample("start", 0);
let steps = 0;
for (let k = 0; steps < STEPS; k++) {
  const label = NAMES[k % NAMES.length];
  if (!learner.classes().some((c) => c.label === label)) learner.addClass(label);
  for (let i = 0; i < 8; i++) await learner.addExample(label, frame(k * 100 + i), SIDE, SIDE);
  steps += (await learner.train({ steps: Math.min(60, STEPS - steps) })).steps;
  if (k % 5 === 4 || steps >= STEPS) sample("train", steps);
}
for (let i = 1; i <= PREDICTIONS; i++) {
  await learner.recognise(frame(i % 50), 5, SIDE, SIDE);
  if (i % Math.max(1, Math.floor(PREDICTIONS / 10)) === 0) sample("recognise", i);
}
const first = samples.find((s) => s.phase === "recognise");
const growth = first ? samples.at(-1).wasmMB - first.wasmMB : null;
console.log(`\nwasm memory: ${samples[0].wasmMB} MB at start, ${Math.max(...samples.map((s) => s.wasmMB))} MB at most; during the ${PREDICTIONS} predictions it grew by ${growth} MB`);
const out = option("--out", null);
if (out) writeFileSync(out, JSON.stringify({ machine: `${cpus()[0].model} (${cpus().length} threads)`, node: process.version, steps: STEPS, predictions: PREDICTIONS, samples }, null, 2));
learner.free();
