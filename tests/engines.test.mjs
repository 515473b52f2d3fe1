// The demo page in Firefox ESR and in WebKit (Debian's builds), as a visitor without a camera uses it: teach two
// things from uploaded photos, reload, and have each recognised in a photo it was not taught from ("Try a photo").
// What each engine covers is printed: the backend the page chose and why, WebGPU's presence, the camera message.
// Neither engine here reaches a GPU, so both run on the CPU build; the fake-camera path is Chromium's (demo.test).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchDir, serve } from "./lib/browser.mjs";
import { firefox, until, webkit } from "./lib/engines.mjs";

const www = join(dirname(fileURLToPath(import.meta.url)), "..", "www");
const THINGS = [
  ["drum", "imagenet_10_541.jpg"],
  ["strawberry", "imagenet_04_949.jpg"],
];

/** Five 320-pixel crops of `photo` at different places and scales: four to teach, the last to try. */
function crops(dir, photo) {
  return [
    [480, 0, 0],
    [480, 160, 0],
    [480, 0, 160],
    [480, 160, 160],
    [400, 40, 40],
  ].map(([scale, x, y], i) => {
    const out = join(dir, photo.replace(/\.\w+$/, `-${i}.png`));
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-i", join(process.env.CVM_PHOTOS, photo), "-vf", `scale=${scale}:${scale},crop=320:320:${x}:${y}`, out]);
    return out;
  });
}

const status = () => document.querySelector('[data-testid="status"]').textContent;

/** Waits until the page is ready (and, with `idle`, has nothing left to train or save); fails at once if it says
 * it could not start. */
async function waitReady(b, idle = false) {
  const text = await until(
    () =>
      b.evaluate((idle) => {
        const s = document.querySelector('[data-testid="status"]');
        const text = s.textContent;
        return (/^could not start/.test(text) || (idle ? text === "ready" && !s.dataset.saving : /^ready/.test(text))) && text;
      }, idle),
    600_000,
    `the page to be ${idle ? "trained and saved" : "ready"}`,
  ).catch(async (e) => assert.fail(`${e.message}; status: ${await b.evaluate(status)}\n${b.log.join("\n")}`));
  assert.doesNotMatch(text, /^could not start/, b.log.join("\n"));
}

/** Tries `photo` in place of the camera; resolves with the prediction shown for it. */
async function tryPhoto(b, photo) {
  const shown = await b.evaluate(() => Number(document.querySelector('[data-testid="prediction"]').dataset.shown ?? 0));
  await b.upload('[data-testid="try-photo"]', [photo]);
  return until(
    () =>
      b.evaluate((shown) => {
        const p = document.querySelector('[data-testid="prediction"]');
        return Number(p.dataset.shown ?? 0) > shown && { label: p.dataset.label, unknown: p.dataset.unknown === "true", score: Number(p.dataset.score) };
      }, shown),
    300_000,
    `a prediction for ${photo}`,
  );
}

for (const [engine, start] of [
  ["Firefox ESR", () => firefox(scratchDir("cvm-firefox-"))],
  ["WebKit", webkit],
]) {
  test(`${engine}: teach two things from uploaded photos, reload, recognise each in a photo not taught from`, { timeout: 900_000 }, async (t) => {
    const dir = scratchDir("cvm-engines-");
    const photos = new Map(THINGS.map(([name, photo]) => [name, crops(dir, photo)]));
    const server = await serve({ "/": www });
    const b = await start();
    try {
      await b.goto(`${server.url}/`);
      await waitReady(b);
      const covers = await b.evaluate(() => ({
        backend: document.querySelector('[data-testid="backend"]').textContent,
        why: document.querySelector('[data-testid="backend"]').title,
        webgpu: "gpu" in navigator,
        camera: document.querySelector("#camera-message").textContent,
      }));
      t.diagnostic(`${b.name}: backend ${covers.backend} (${covers.why}); navigator.gpu ${covers.webgpu ? "present" : "absent"}; camera: ${covers.camera}`);

      for (const [name, files] of photos) {
        // The button rather than Enter: in WebKit the first Enter goes to the suggestion list, only a second submits.
        await b.type('[data-testid="concept-input"]', name);
        await b.click('[data-testid="add-class"]');
        await until(() => b.evaluate((name) => Boolean(document.querySelector(`[data-testid="class-card"][data-class="${name}"]`)), name), 60_000, `the card of ${name}`);
        await b.upload(`[data-class="${name}"] input[type=file]`, files.slice(0, 4));
        await until(() => b.evaluate((name) => Number(document.querySelector(`[data-class="${name}"] [data-testid="sample-count"]`)?.textContent) >= 3, name), 300_000, `the examples of ${name}`);
        await waitReady(b, true);
      }

      await b.reload();
      await waitReady(b);
      const restored = await b.evaluate(() => [...document.querySelectorAll('[data-testid="class-card"]')].map((c) => [c.dataset.class, Number(c.querySelector('[data-testid="sample-count"]').textContent)]));
      assert.deepEqual(restored, THINGS.map(([name]) => [name, 4]), "both classes and their examples come back after a reload");

      for (const [name, files] of photos) {
        const seen = await tryPhoto(b, files[4]);
        t.diagnostic(`${b.name}: a photo of ${name} not taught from reads ${seen.label} (${seen.score}${seen.unknown ? ", unknown" : ""})`);
        assert.deepEqual([seen.label, seen.unknown], [name, false], `the photo of ${name}`);
      }
      await b.evaluate(() => document.querySelector('[data-testid="back-to-camera"]').click());
      assert.equal(await b.evaluate(() => document.querySelector('[data-testid="photo"]').hidden), true, "Back to camera hides the photo");
      assert.deepEqual(b.log.filter((l) => /^\[(error|pageerror)\]/.test(l)), []);
    } finally {
      await b.close();
      await server.close();
    }
  });
}
