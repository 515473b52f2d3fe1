// End to end: the demo page in Chromium with a fake webcam. Three things (one on WebGPU) are taught one after another (one
// browser session per thing, each with its own clip), then each clip is shown again and must be recognised, and
// (on the CPU) a thing never taught must be called "not one of your classes". Before the first example, the
// page must name the first thing (the grounded prior) and say it already knows it. One recorded example is removed
// again. The state must survive every restart, and no request may leave the page's origin.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchDir, serve } from "./lib/browser.mjs";
import { camera, clip as clipOf, open, recordUntilRecognised, sessions, waitReady, waitSaved } from "./lib/demo.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, "..", "www");
const photos = process.env.CVM_PHOTOS;
const artifacts = process.env.CVM_ARTIFACTS ?? tmpdir();
const backends = (process.env.CVM_E2E_BACKENDS ?? "cpu,webgpu").split(",");

// foolbox ImageNet photos shown to the camera, and the vocabulary names taught for them.
const ALL_THINGS = [
  { photo: "imagenet_04_949.jpg", name: "strawberry" },
  { photo: "imagenet_10_541.jpg", name: "drum" },
  { photo: "imagenet_15_99.jpg", name: "bird" },
];
// Shown after teaching, never taught.
const STRANGER = "imagenet_12_741.jpg"; // a prayer rug
const clip = (dir, photo) => clipOf(dir, join(photos, photo));

for (const backend of backends) {
  // SwiftShader emulates WebGPU on the CPU (a frame takes seconds): one thing proves the backend as well as three.
  const THINGS = backend === "webgpu" ? ALL_THINGS.slice(0, 1) : ALL_THINGS;
  test(`teach ${THINGS.length} things one after another and recognise them (${backend})`, { timeout: 1_800_000 }, async () => {
    assert.ok(photos, "CVM_PHOTOS is unset: run through `cargo xtask test`");
    const dir = scratchDir("cvm-e2e-");
    const clips = THINGS.map((t) => clip(dir, t.photo));
    const server = await serve({ "/": www });
    const url = `${server.url}/index.html?backend=${backend}`;
    const profile = join(dir, "profile");
    mkdirSync(profile);
    const origin = (u) => u.startsWith(server.url) || u.startsWith("data:") || u.startsWith("blob:");
    try {
      // Teach, one session per thing.
      const kept = {}; // examples per class after teaching
      const releaseToRecognised = []; // seconds, per thing taught
      for (const [k, thing] of THINGS.entries()) {
        const s = await open(profile, url, camera(clips[k]));
        await waitReady(s.page, s.log);
        assert.equal(await s.page.locator('[data-testid="class-card"]').count(), k, "earlier classes survived the restart");
        assert.equal(await s.page.textContent('[data-testid="backend"]'), backend === "webgpu" ? "WebGPU" : "CPU");
        if (k === 0) {
          // Before any class, the page already says what the camera shows (the grounded prior) …
          await s.page
            .waitForFunction((name) => document.querySelector("#looks-like").textContent.split(", ").includes(name), thing.name, { timeout: 300_000 })
            .catch(async (e) => assert.fail(`${e.message}\nlooks like: ${await s.page.textContent("#looks-like")}`));
        }
        await s.page.fill('[data-testid="concept-input"]', thing.name);
        await s.page.click('[data-testid="add-class"]');
        if (k === 0) {
          // … and knows the thing by its name before the first example.
          await s.page
            .waitForSelector('#add-message[data-kind="known"]:not([hidden])', { timeout: 300_000 })
            .catch(async (e) => assert.fail(`${e.message}\nadd-message: ${await s.page.textContent("#add-message")}`));
          console.log(`demo (${backend}): before its first example: ${await s.page.textContent("#add-message")}`);
        }
        // Release → the first prediction made after it that names the new thing (a figure, not an assertion).
        releaseToRecognised.push((await recordUntilRecognised(s, thing.name)).toFixed(2));
        await waitReady(s.page, s.log, { trained: true });
        const countOf = async () => Number(await s.page.textContent(`[data-class="${thing.name}"] [data-testid="sample-count"]`));
        const count = await countOf();
        assert.ok(count >= 8, `${thing.name}: only ${count} examples recorded`);
        if (k === 0) {
          // Take one recorded example back out: the count and the thumbnails drop by one.
          const removers = s.page.locator(`[data-class="${thing.name}"] [data-testid="remove-sample"]`);
          const thumbs = await removers.count();
          await removers.first().click();
          await s.page
            .waitForFunction(([name, n]) => Number(document.querySelector(`[data-class="${name}"] [data-testid="sample-count"]`).textContent) === n, [thing.name, count - 1])
            .catch(async (e) => assert.fail(`${e.message}\nstatus: ${await s.page.textContent('[data-testid="status"]')}\n${s.log.join("\n")}`));
          assert.equal(await removers.count(), thumbs - 1);
          await s.page.waitForFunction(() => /removed/.test(document.querySelector('[data-testid="status"]').textContent)); // saved
        }
        kept[thing.name] = await countOf();
        if (k === THINGS.length - 1) {
          // Held-out frames of the earlier sessions were saved too: every class is measured after the last one
          // (in the background, after the class became usable).
          const measured = (names) => names.every((n) => new RegExp(`${n} \\d+%`).test(document.querySelector("#accuracy-plot").getAttribute("aria-label")));
          await s.page
            .waitForFunction(measured, THINGS.map((t) => t.name), { timeout: 300_000 })
            .catch(async (e) => assert.fail(`${e.message}\n${await s.page.getAttribute("#accuracy-plot", "aria-label")}`));
          console.log(`demo (${backend}): release → recognised, per thing taught (s): ${releaseToRecognised.join(", ")}`);
        }
        assert.deepEqual(s.requests.filter((u) => !origin(u)), [], "requests left the origin");
        await waitSaved(s.page);
        await s.context.close();
      }
      // The package's CPU-only build is loaded first; the whole one, with WebGPU, only when WebGPU runs.
      const fetched = (build) => server.served.includes(`/generated/${build}/cvm_wasm_bg.wasm`);
      assert.ok(fetched("pkg/cpu"), "the CPU-only build was loaded first");
      assert.equal(fetched("pkg/webgpu"), backend === "webgpu", `the build with WebGPU was ${backend === "webgpu" ? "not " : ""}loaded`);
      // Recognise, again one session per thing (the state comes back from IndexedDB every time).
      let correct = 0;
      let total = 0;
      const liveFps = []; // the page's own frames/s badge after ~5 s of live view, per session (a figure, not a check)
      for (const [k, thing] of THINGS.entries()) {
        const s = await open(profile, url, camera(clips[k]));
        await waitReady(s.page, s.log);
        assert.equal(await s.page.locator('[data-testid="class-card"]').count(), THINGS.length);
        for (const [name, n] of Object.entries(kept)) {
          assert.equal(Number(await s.page.textContent(`[data-class="${name}"] [data-testid="sample-count"]`)), n, `${name}: examples after reload`);
        }
        // The first prediction of the camera stream has arrived when the confidence bars exist.
        await s.page.waitForSelector("#bars li", { timeout: 300_000 });
        const readings = [];
        for (let i = 0; i < 12; i++) {
          await s.page.waitForTimeout(400);
          const label = await s.page.getAttribute('[data-testid="prediction"]', "data-label");
          const unknown = await s.page.getAttribute('[data-testid="prediction"]', "data-unknown");
          readings.push(unknown === "true" ? `(${label}?)` : label);
          correct += label === thing.name && unknown === "false" ? 1 : 0;
          total += 1;
        }
        console.log(`demo (${backend}): ${thing.name}: ${readings.join(" ")}`);
        liveFps.push(await s.page.textContent("#fps"));
        if (k === THINGS.length - 1) await s.page.screenshot({ path: join(artifacts, `demo-${backend}.png`), fullPage: true });
        assert.deepEqual(s.requests.filter((u) => !origin(u)), [], "requests left the origin");
        await s.context.close();
      }
      console.log(`demo (${backend}): live view with ${THINGS.length} things known, per session: ${liveFps.join(", ")}`);
      const accuracy = correct / total;
      console.log(`demo (${backend}): ${correct}/${total} held-out camera frames recognised (${(100 * accuracy).toFixed(0)}%)`);
      assert.ok(accuracy >= 0.8, `accuracy ${accuracy}`);
      if (backend === "cpu") {
        // Something never taught: the page must not call it one of its classes.
        const s = await open(profile, url, camera(clip(dir, STRANGER)));
        await waitReady(s.page, s.log);
        await s.page.waitForSelector("#bars li", { timeout: 300_000 });
        let unknown = 0;
        for (let i = 0; i < 12; i++) {
          await s.page.waitForTimeout(400);
          unknown += (await s.page.getAttribute('[data-testid="prediction"]', "data-unknown")) === "true" ? 1 : 0;
        }
        const said = await s.page.textContent("#prediction-label");
        console.log(`demo (${backend}): never-taught thing called unknown on ${unknown}/12 readings ("${said}")`);
        assert.ok(unknown >= 10, `a never-taught thing was called a taught class on ${12 - unknown} of 12 readings`);
        await s.context.close();
      }
    } finally {
      await Promise.all([...sessions].map((c) => c.close()));
      await server.close();
    }
  });
}

test("with the camera denied the page explains, and uploads still teach", { timeout: 600_000 }, async () => {
  const dir = scratchDir("cvm-e2e-denied-");
  const server = await serve({ "/": www });
  try {
    const s = await open(join(dir, "profile"), `${server.url}/index.html?backend=cpu`, ["--deny-permission-prompts", "--use-fake-device-for-media-stream"]);
    await waitReady(s.page, s.log);
    const message = await s.page.textContent("#camera-message");
    assert.match(message, /denied|camera/i);
    await s.page.fill('[data-testid="concept-input"]', "strawberry");
    await s.page.click('[data-testid="add-class"]');
    await s.page.setInputFiles('[data-class="strawberry"] input[type=file]', [join(photos, "imagenet_04_949.jpg"), join(photos, "imagenet_10_541.jpg")]);
    await s.page.waitForFunction(() => Number(document.querySelector('[data-class="strawberry"] [data-testid="sample-count"]')?.textContent) >= 1, null, { timeout: 300_000 });
    await s.context.close();
  } finally {
    await Promise.all([...sessions].map((c) => c.close()));
    await server.close();
  }
});
