// Browser benchmarks in one headless Chromium (WebGPU through SwiftShader, a CPU emulation, where no GPU exists):
//   node run.mjs train  [--out FILE]   the student's train step here vs the same network in TensorFlow.js
//   node run.mjs trunk  [--out FILE]   the trunk's forward pass here vs EfficientNet-Lite0 in TensorFlow.js, on one
//                                      thread and, in a cross-origin-isolated page, on every core (CVM_THREADS_PKG:
//                                      the façade's threads build)
//   node run.mjs webcam [--out FILE] [--backends cpu]   the pretrained trunk + adapter: new-class time and frame latency
// Needs CVM_ASSETS (concept and trunk blobs) and the npm package in ../../../pkg.

import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve, launch, collectConsole } from "../../../tests/lib/browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [mode = "train", ...rest] = process.argv.slice(2);
const out = rest.includes("--out") ? rest[rest.indexOf("--out") + 1] : null;
// `--backends cpu` leaves out the WebGPU row (SwiftShader takes minutes where no GPU exists).
const backends = rest.includes("--backends") ? rest[rest.indexOf("--backends") + 1].split(",") : ["cpu", "webgpu"];
const assets = process.env.CVM_ASSETS;
if (!assets) throw new Error("CVM_ASSETS is unset: run through `cargo xtask bench browser|webcam`");

const routes = { "/pkg/": join(here, "../../../pkg"), "/assets/": assets, "/": here };
const server = await serve(routes);
// The same files from a cross-origin-isolated origin: shared memory, so threads (wasm's and TF.js's).
const threadsPkg = process.env.CVM_THREADS_PKG;
// wasm-bindgen-rayon's helper workers import the package as its directory ("../../.." from their snippet).
const aliases = { "/pkg-threads/": "/pkg-threads/cvm_wasm.js" };
const isolated = threadsPkg ? await serve({ "/pkg-threads/": threadsPkg, ...routes }, { isolated: true, aliases }) : null;
// WebGL in headless Chromium needs SwiftShader allowed explicitly.
const browser = await launch(["--enable-unsafe-swiftshader", "--use-angle=swiftshader"]);
const version = browser.version();

// A closed page goes on using the CPU for a moment while its process tears down: every page starts after a pause,
// or a row on two threads pays for the page before it (16 ms a frame instead of 14 after a single-thread page here).
const SETTLE_MS = 3000;

/** Runs `window.bench[fn](...args)` in a fresh page (of the isolated origin when `fn` ends in "Isolated"). */
async function inPage(fn, ...args) {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const page = await browser.newPage();
  const log = collectConsole(page);
  const origin = fn.endsWith("Isolated") ? isolated : server;
  fn = fn.replace(/Isolated$/, "");
  try {
    await page.goto(`${origin.url}/index.html`);
    await page.waitForFunction(() => document.getElementById("ready").textContent === "ready", null, { timeout: 60_000 });
    return await page.evaluate(({ fn, args }) => window.bench[fn](...args), { fn, args });
  } catch (error) {
    return { error: `${String(error?.message ?? error).split("\n")[0]}${log.length ? ` (console: ${log.slice(-3).join(" | ")})` : ""}` };
  } finally {
    await page.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
let results;
try {
  console.log(`# browser benchmark (${mode}) — Chromium ${version} headless; WebGPU is SwiftShader (CPU emulation) on a machine without a GPU`);
  if (mode === "train") {
    const WARMUP = 2;
    const STEPS = 10;
    const rows = [];
    for (const backend of ["webgpu", "cpu"]) rows.push({ engine: "cvm (burn)", backend, ...(await inPage("oursTrainStep", backend, WARMUP, STEPS)) });
    for (const backend of ["webgpu", "webgl", "cpu"]) rows.push({ engine: "TF.js 4.22.0", backend, ...(await inPage("tfjsTrainStep", backend, WARMUP, STEPS)) });
    rows.push({ engine: "TF.js 4.22.0", backend: "wasm", error: "cannot train this network: Conv2DBackpropFilter has no kernel in the wasm backend" });
    for (const r of rows) if (r.times) r.msPerStep = median(r.times);
    const tfjs = (b) => rows.find((r) => r.engine.startsWith("TF.js") && r.backend === b && r.msPerStep);
    const fastestTfjs = rows.filter((r) => r.engine.startsWith("TF.js") && r.msPerStep).sort((a, b) => a.msPerStep - b.msPerStep)[0];
    console.log(`\ntrain step: 32 images of 32×32 RGB, batch of 32, median of ${STEPS} steps after ${WARMUP} warm-up steps\n`);
    console.log("| engine | backend | ms/step | images/s | ours ÷ TF.js |\n|---|---|---|---|---|");
    for (const r of rows) {
      let ratio = "";
      if (r.engine.startsWith("cvm") && r.msPerStep) {
        const peer = r.backend === "webgpu" ? tfjs("webgpu") : fastestTfjs;
        if (peer) ratio = `${(r.msPerStep / peer.msPerStep).toFixed(2)}× (vs TF.js ${peer.backend})`;
      }
      console.log(r.msPerStep ? `| ${r.engine} | ${r.backend} | ${fmt(r.msPerStep)} | ${((32 * 1000) / r.msPerStep).toFixed(1)} | ${ratio} |` : `| ${r.engine} | ${r.backend} | — | — | ${r.error} |`);
    }
    results = { chromium: version, warmup: WARMUP, steps: STEPS, batch: 32, rows };
  } else if (mode === "trunk") {
    if (!isolated) throw new Error("CVM_THREADS_PKG is unset: run through `cargo xtask bench browser`");
    // SwiftShader takes seconds a frame: fewer runs there.
    const runs = (backend) => (backend === "cpu" || backend === "wasm" ? [3, 20] : [1, 3]);
    const cores = await inPage("cores");
    const ours = "cvm (burn 0.22 + own CPU kernels)";
    // A wasm row is timed in PAGES fresh pages, its median taken over all their frames, so that one page's
    // circumstances do not make the row (page medians are kept beside it).
    const PAGES = 3;
    const inPages = async (fn, ...args) => {
      const pages = [];
      for (let i = 0; i < PAGES; i++) pages.push(await inPage(fn, ...args));
      const failed = pages.find((p) => !p.times);
      if (failed) return failed;
      return { ...pages[0], times: pages.flatMap((p) => p.times), pageMedians: pages.map((p) => median(p.times)) };
    };
    const rows = [];
    rows.push({ engine: ours, build: "", ...(await inPages("oursTrunk", "cpu", ...runs("cpu"))) });
    rows.push({ engine: ours, build: "", ...(await inPage("oursTrunk", "webgpu", ...runs("webgpu"))) });
    rows.push({ engine: ours, build: "", ...(await inPages("oursTrunkThreadsIsolated", cores, ...runs("cpu"))) });
    for (const build of ["fused", "layers"]) {
      for (const backend of ["wasm", "cpu", "webgl", "webgpu"]) {
        const [warmup, n] = backend === "cpu" ? [1, 3] : runs(backend);
        const timing = backend === "wasm" ? inPages : inPage;
        rows.push({ engine: "TF.js 4.22.0", build, ...(await timing("tfjsTrunk", backend, build, warmup, n)) });
      }
      rows.push({ engine: "TF.js 4.22.0", build, ...(await inPages("tfjsTrunkIsolated", "wasm", build, ...runs("wasm"), cores)) });
    }
    for (const r of rows) if (r.times) r.ms = median(r.times);
    const peer = rows.find((r) => r.build === "fused" && r.backend === "wasm" && r.threads === 1 && r.ms);
    const threaded = (engine) => rows.find((r) => r.engine === engine && r.threads > 1 && r.build !== "layers" && r.ms);
    console.log(`\ntrunk forward: EfficientNet-Lite0, one 224×224 frame → 1280 features read back; median after warm-up (wasm rows: over ${PAGES} pages)\n`);
    console.log("| engine | built from | backend | ms/frame | frames/s | ÷ TF.js wasm (fused, 1 thread) |\n|---|---|---|---|---|---|");
    for (const r of rows) {
      const backend = r.threads ? `${r.backend === "cpu" ? "CPU wasm" : r.backend} (${r.threads} thread${r.threads > 1 ? "s" : ""})` : r.backend;
      const ratio = peer && r.ms ? `${(r.ms / peer.ms).toFixed(2)}×` : "";
      console.log(r.ms ? `| ${r.engine} | ${r.build || "—"} | ${backend} | ${fmt(r.ms)} | ${(1000 / r.ms).toFixed(1)} | ${ratio} |` : `| ${r.engine} | ${r.build || "—"} | ${r.backend ?? "—"} | — | — | ${r.error} |`);
    }
    const [a, b] = [threaded(ours), threaded("TF.js 4.22.0")];
    if (a && b) console.log(`\nwith ${cores} threads: ours ÷ TF.js wasm (fused, ${b.threads} threads) = ${(a.ms / b.ms).toFixed(2)}×`);
    for (const r of rows) if (r.pageMedians) console.log(`${r.engine}, ${r.build || r.backend}, ${r.threads} thread(s): page medians ${r.pageMedians.map(fmt).join(", ")} ms`);
    results = { chromium: version, cores, pages: PAGES, rows };
  } else if (mode === "webcam") {
    const rows = [];
    for (const backend of backends) rows.push(await inPage("webcam", backend, 20, 60, backend === "cpu" ? 10 : 3));
    console.log("\n| backend | frame latency (median) | frames/s | new class after its last frame (features backlog + 60 steps) | features of the 20 frames, while recording at 8 frames/s |\n|---|---|---|---|---|");
    const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
    for (const r of rows) {
      console.log(r.error ? `| — | — | — | ${r.error} | |` : `| wasm ${r.backend} | ${fmt(r.frameMs)} ms | ${(1000 / r.frameMs).toFixed(1)} | ${s(r.afterLastMs)} (${s(r.backlogMs)} + ${s(r.trainMs)}) | ${s(r.featuresMs)} |`);
    }
    results = { chromium: version, rows };
  } else {
    throw new Error(`unknown mode ${mode} (train, trunk, webcam)`);
  }
} finally {
  await browser.close();
  await server.close();
  await isolated?.close();
}
if (out) {
  writeFileSync(out, JSON.stringify(results, null, 2));
  console.log(`results: ${out}`);
}
