// Every argument of the npm package fuzzed (tests/lib/fuzz.mjs): in Node, and in Chromium, where the bank also
// holds the image sources only a browser has (bitmaps open and closed, canvases empty and too large, a video and
// an image with no frame yet, a VideoFrame, an OffscreenCanvas). CPU backend in both.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packagePage } from "./lib/browser.mjs";
import { fuzzArguments } from "./lib/fuzz.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "pkg");
const assets = process.env.CVM_ASSETS;

test("no argument traps, hangs or breaks the package (Node)", { timeout: 600_000 }, async () => {
  assert.ok(assets, "CVM_ASSETS is unset: run through `cargo xtask test`");
  const { default: init, Learner } = await import(join(pkg, "index.js"));
  await init({ cpu: readFileSync(join(pkg, "cpu", "cvm_wasm_bg.wasm")) });
  const concepts = new Uint8Array(readFileSync(join(assets, "concepts-smollm2.safetensors")));
  // Without a backend, "auto" takes WebGPU where it can be reached and the CPU elsewhere (here: Node).
  const auto = await Learner.create({ concepts });
  assert.equal(auto.backend, "cpu");
  auto.free();
  // Asked for WebGPU where there is none, the package says so (the CPU-only build answers; the whole one stays unloaded).
  await assert.rejects(Learner.create({ concepts, backend: "webgpu" }), /^Error: WebGPU is not available here/);
  for (const line of await fuzzArguments({ Learner, concepts })) console.log(`arguments (Node): ${line}`);
});

test("no argument traps, hangs or breaks the package (Chromium, with the browser's image sources)", { timeout: 900_000 }, async () => {
  assert.ok(assets, "CVM_ASSETS is unset: run through `cargo xtask test`");
  const { page, log, close } = await packagePage(pkg, assets);
  try {
    const { lines, outcomes } = await page
      .evaluate(async () => {
        const { default: init, Learner } = await import("/pkg/index.js");
        const { fuzzArguments, SIDE } = await import("/lib/fuzz.mjs");
        await init();
        const concepts = new Uint8Array(await (await fetch("/assets/concepts-smollm2.safetensors")).arrayBuffer());
        const canvas = (w, h) => Object.assign(document.createElement("canvas"), { width: w, height: h });
        const painted = canvas(SIDE, SIDE);
        painted.getContext("2d").fillRect(4, 4, 12, 12);
        const closed = await createImageBitmap(painted);
        closed.close();
        const frame = new VideoFrame(painted, { timestamp: 0 });
        const closedFrame = new VideoFrame(painted, { timestamp: 1 });
        closedFrame.close();
        const sources = {
          "an ImageBitmap": await createImageBitmap(painted), "a closed ImageBitmap": closed,
          "ImageData": painted.getContext("2d").getImageData(0, 0, SIDE, SIDE), "a 1×1 ImageData": new ImageData(1, 1),
          "a 0×0 canvas": canvas(0, 0), "a 3000×2000 canvas": canvas(3000, 2000), "a 5000×5000 canvas": canvas(5000, 5000),
          "a 40000×40000 canvas": canvas(40000, 40000), "an OffscreenCanvas": new OffscreenCanvas(SIDE, SIDE),
          "a video with no frame yet": document.createElement("video"), "an image still loading": new Image(),
          "a VideoFrame": frame, "a closed VideoFrame": closedFrame, "a <div>": document.createElement("div"),
        };
        const lines = await fuzzArguments({ Learner, concepts, extra: Object.values(sources) });
        // What each source gives on its own: a frame, or the reason it is not one.
        const learner = await Learner.create({ concepts, backend: "cpu", settings: { inputSize: SIDE } });
        const outcomes = {};
        for (const [name, source] of Object.entries(sources)) {
          outcomes[name] = await learner.encode(source).then((s) => `${s.length} values`, (e) => e.message);
        }
        learner.free();
        return { lines, outcomes };
      })
      .catch((e) => {
        throw new Error(`${e.message}\nconsole:\n${log.slice(-20).join("\n")}`);
      });
    const frame = /^\d+ values$/;
    const expected = {
      "an ImageBitmap": frame, "a closed ImageBitmap": /no size yet/, "ImageData": frame, "a 1×1 ImageData": frame,
      "a 0×0 canvas": /no size yet/, "a 3000×2000 canvas": frame, "a 5000×5000 canvas": /larger than the 16777216 pixels/,
      "a 40000×40000 canvas": /larger than the 16777216 pixels/, "an OffscreenCanvas": frame,
      "a video with no frame yet": /no size yet/, "an image still loading": /no size yet/, "a VideoFrame": frame,
      "a closed VideoFrame": /no size yet/, "a <div>": /^unsupported image/,
    };
    for (const [name, pattern] of Object.entries(expected)) assert.match(outcomes[name], pattern, name);
    for (const line of lines) console.log(`arguments (Chromium): ${line}`);
  } finally {
    await close();
  }
});
