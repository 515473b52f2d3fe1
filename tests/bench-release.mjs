// Benchmark (not a test): how long a person waits, from releasing Record to the page recognising the new thing,
// as the page learns up to ten things one after another (one browser session per thing, fake webcam, CPU).
//   node bench-release.mjs [--things N] [--out FILE]     (run by `cargo xtask bench release`)
// Needs CVM_PHOTOS (foolbox's photos) and the page's generated files (www/generated).

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchDir, serve } from "./lib/browser.mjs";
import { camera, clip, open, recordUntilRecognised, sessions, waitReady, waitSaved } from "./lib/demo.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const photos = process.env.CVM_PHOTOS;
if (!photos) throw new Error("CVM_PHOTOS is unset: run through `cargo xtask bench release`");

// foolbox ImageNet photos and the names taught for them, in teaching order.
const THINGS = [
  ["imagenet_04_949.jpg", "strawberry"],
  ["imagenet_10_541.jpg", "drum"],
  ["imagenet_15_99.jpg", "bird"],
  ["imagenet_01_559.jpg", "folding chair"],
  ["imagenet_02_438.jpg", "beaker"],
  ["imagenet_06_609.jpg", "jeep"],
  ["imagenet_08_915.jpg", "yurt"],
  ["imagenet_13_471.jpg", "cannon"],
  ["imagenet_16_251.jpg", "dalmatian"],
  ["imagenet_05_853.jpg", "thatch"],
].slice(0, Number(option("--things", 10)));

const dir = scratchDir("cvm-release-");
const profile = join(dir, "profile");
mkdirSync(profile);
const www = join(dirname(fileURLToPath(import.meta.url)), "..", "www");
const server = await serve({ "/": www });
const rows = [];
let live = null;
try {
  console.log(`# release → recognised — ${cpus()[0].model} (${cpus().length} threads), headless Chromium, CPU backend, fake webcam`);
  console.log("# each thing: a new class, Record held 2 s (≈ 16 frames at 8 frames/s), 60 training steps\n");
  console.log("| things known | thing | release → recognised (s) |\n|---|---|---|");
  for (const [k, [photo, name]] of THINGS.entries()) {
    const s = await open(profile, `${server.url}/index.html?backend=cpu`, camera(clip(dir, join(photos, photo))));
    await waitReady(s.page, s.log);
    await s.page.fill('[data-testid="concept-input"]', name);
    await s.page.click('[data-testid="add-class"]');
    await s.page.waitForSelector(`[data-testid="class-card"][data-class="${name}"]`);
    const seconds = await recordUntilRecognised(s, name);
    rows.push({ classes: k + 1, thing: name, seconds });
    console.log(`| ${k + 1} | ${name} | ${seconds.toFixed(2)} |`);
    await waitSaved(s.page);
    if (k === THINGS.length - 1) {
      // The live view once everything is saved: frames/s over the page's own 1 s windows.
      await s.page.waitForTimeout(4000);
      live = await s.page.textContent("#fps");
    }
    await s.context.close();
  }
  const worst = Math.max(...rows.map((r) => r.seconds));
  console.log(`\nslowest: ${worst.toFixed(2)} s (target ≤ 2 s at every count); live view with ${THINGS.length} things known: ${live}`);
  const out = option("--out", null);
  if (out) writeFileSync(out, JSON.stringify({ machine: `${cpus()[0].model} (${cpus().length} threads)`, backend: "cpu", rows, liveView: live }, null, 2));
} finally {
  await Promise.all([...sessions].map((c) => c.close()));
  await server.close();
}
