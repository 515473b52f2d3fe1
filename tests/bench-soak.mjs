// Benchmark (not a test): does a long session leak? The npm package with the pretrained student as the page uses
// it (tests/lib/soak.mjs): classes taught one after another until 2,000 training steps, then 10,000 predictions,
// with memory sampled as it goes — on the CPU in Node (wasm memory, JS heap), or on WebGPU in headless Chromium
// (wasm memory, JS heap, and the resident memory of Chromium's GPU process, which holds every GPU buffer when
// the adapter is SwiftShader, a CPU emulation: a run there is slow, so scale it down with --steps/--predictions).
//   node bench-soak.mjs [--backend cpu|webgpu] [--steps N] [--predictions N] [--out FILE]   (`cargo xtask bench soak`)
// Needs CVM_ASSETS (concept and trunk blobs) and the package in ../pkg.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packagePage } from "./lib/browser.mjs";
import { soak } from "./lib/soak.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const assets = process.env.CVM_ASSETS;
if (!assets) throw new Error("CVM_ASSETS is unset: run through `cargo xtask bench soak`");
const BACKEND = option("--backend", "cpu");
const STEPS = Number(option("--steps", 2000));
const PREDICTIONS = Number(option("--predictions", 10000));
const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "pkg");
const MB = 2 ** 20;

const samples = [];
const record = (phase, done, memory) => {
  samples.push({ phase, done, ...memory });
  console.log(`| ${phase} | ${done} | ${Object.values(memory).join(" | ")} |`);
};
const started = Date.now();
let where;
if (BACKEND === "cpu") {
  where = `Node ${process.version}, CPU backend`;
  // The build itself, not the package's index.js: its start-up hands back the wasm memory to sample.
  const { default: init, Learner } = await import(join(pkg, "cpu", "cvm_wasm.js"));
  const wasm = await init({ module_or_path: readFileSync(join(pkg, "cpu", "cvm_wasm_bg.wasm")) });
  const learner = await Learner.create({
    concepts: new Uint8Array(readFileSync(join(assets, "concepts-smollm2.safetensors"))),
    student: new Uint8Array(readFileSync(join(assets, "trunk-efficientnet-lite0.safetensors"))),
    backend: "cpu",
  });
  console.log(`# soak — ${cpus()[0].model} (${cpus().length} threads), ${where}, EfficientNet-Lite0 + adapter`);
  console.log("\n| phase | done | wasm memory (MB) | JS heap (MB) |\n|---|---|---|---|");
  const sample = (phase, done) =>
    record(phase, done, { wasmMB: Number((wasm.memory.buffer.byteLength / MB).toFixed(1)), heapMB: Number((process.memoryUsage().heapUsed / MB).toFixed(1)) });
  await soak({ learner, steps: STEPS, predictions: PREDICTIONS, sample });
  learner.free();
} else if (BACKEND === "webgpu") {
  const { browser, page, close } = await packagePage(pkg, assets);
  // The GPU process is the descendant of this process started with --type=gpu-process; its resident memory, from
  // /proc.
  const table = execFileSync("ps", ["-eo", "pid=,ppid=,args="]).toString().trim().split("\n").map((l) => l.trim().split(/\s+/));
  const mine = new Set([String(process.pid)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of table) if (mine.has(ppid) && !mine.has(pid)) grew = mine.add(pid);
  }
  const gpuProcess = table.find(([pid, , ...args]) => mine.has(pid) && args.includes("--type=gpu-process"))?.[0];
  if (!gpuProcess) throw new Error("no GPU process under this one");
  const gpuMB = () => {
    const rss = readFileSync(`/proc/${gpuProcess}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)[1];
    return Number((Number(rss) / 1024).toFixed(1));
  };
  await page.exposeFunction("gpuProcessMB", gpuMB);
  await page.exposeFunction("report", (phase, done, memory) => record(phase, done, memory));
  where = `Chromium ${browser.version()}, WebGPU (${await page.evaluate(async () => {
    const info = (await navigator.gpu?.requestAdapter())?.info;
    return info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") : "no adapter";
  })})`;
  console.log(`# soak — ${cpus()[0].model} (${cpus().length} threads), ${where}, EfficientNet-Lite0 + adapter`);
  console.log("\n| phase | done | wasm memory (MB) | JS heap (MB) | GPU process resident (MB) |\n|---|---|---|---|---|");
  await page.evaluate(async ([steps, predictions]) => {
    const { default: init, Learner } = await import("/pkg/webgpu/cvm_wasm.js");
    const { soak } = await import("/lib/soak.mjs");
    const wasm = await init();
    const blob = async (name) => new Uint8Array(await (await fetch(`/assets/${name}`)).arrayBuffer());
    const learner = await Learner.create({ concepts: await blob("concepts-smollm2.safetensors"), student: await blob("trunk-efficientnet-lite0.safetensors"), backend: "webgpu" });
    const sample = async (phase, done) =>
      window.report(phase, done, {
        wasmMB: Number((wasm.memory.buffer.byteLength / 2 ** 20).toFixed(1)),
        heapMB: Number((performance.memory.usedJSHeapSize / 2 ** 20).toFixed(1)),
        gpuProcessMB: await window.gpuProcessMB(),
      });
    await soak({ learner, steps, predictions, sample });
    learner.free();
  }, [STEPS, PREDICTIONS]);
  await close();
} else {
  throw new Error(`--backend takes cpu or webgpu, not ${BACKEND}`);
}
const first = samples.find((s) => s.phase === "recognise");
const growth = (key) => (first ? Number((samples.at(-1)[key] - first[key]).toFixed(1)) : null);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\n${minutes} min. wasm memory: ${samples[0].wasmMB} MB at start, ${Math.max(...samples.map((s) => s.wasmMB))} MB at most; during the ${PREDICTIONS} predictions it grew by ${growth("wasmMB")} MB` +
  (BACKEND === "webgpu" ? `; the GPU process: ${samples[0].gpuProcessMB} MB at start, ${Math.max(...samples.map((s) => s.gpuProcessMB))} MB at most, grew by ${growth("gpuProcessMB")} MB during the predictions` : ""));
const out = option("--out", null);
if (out) writeFileSync(out, JSON.stringify({ machine: `${cpus()[0].model} (${cpus().length} threads)`, where, backend: BACKEND, steps: STEPS, predictions: PREDICTIONS, minutes: Number(minutes), samples }, null, 2));
