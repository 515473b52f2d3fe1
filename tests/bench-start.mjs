// Benchmark (not a test): how long a visitor waits before the page is ready and says what the camera sees, and
// what it downloads for that. A fresh browser profile loads the page from a loopback server that compresses as a
// static host would (brotli or gzip, as the browser accepts), unthrottled and through a link of 20 Mbit/s with
// 40 ms per request (paced by the server, so the service worker's and the page worker's requests share it);
// then the same profile visits again, served by the service worker's cache.
//   node bench-start.mjs [--out FILE]     (run by `cargo xtask bench start`)
// Needs CVM_PHOTOS (foolbox's photos, for the fake camera) and the page's generated files (www/generated).

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchDir, serve } from "./lib/browser.mjs";
import { camera, clip, open, sessions } from "./lib/demo.mjs";

const args = process.argv.slice(2);
const out = args.includes("--out") ? args[args.indexOf("--out") + 1] : null;
const photos = process.env.CVM_PHOTOS;
if (!photos) throw new Error("CVM_PHOTOS is unset: run through `cargo xtask bench start`");

const LINKS = [
  // A first, unrecorded visit has the server compress each file once, before anything is timed.
  { name: "warm-up", bitsPerSecond: 0, latencyMs: 0 },
  { name: "unthrottled", bitsPerSecond: 0, latencyMs: 0 },
  { name: "20 Mbit/s, 40 ms", bitsPerSecond: 20e6, latencyMs: 40 },
];
const www = join(dirname(fileURLToPath(import.meta.url)), "..", "www");
const dir = scratchDir("cvm-start-");
const cameraArgs = camera(clip(dir, join(photos, "imagenet_04_949.jpg")));

/** Marks, in page time (ms since navigation), when the status first reads "ready" and when "looks like" first
 * names something (the first prediction a visitor sees). */
const MARKS = () => {
  const marks = (window.__startMarks = {});
  new MutationObserver(() => {
    const status = document.querySelector('[data-testid="status"]')?.textContent ?? "";
    if (!marks.ready && /^ready/.test(status)) marks.ready = performance.now();
    if (!marks.looksLike && /^[^—]/.test(document.querySelector("#looks-like")?.textContent.trim() ?? "")) marks.looksLike = performance.now();
  }).observe(document, { subtree: true, childList: true, characterData: true });
};

async function visit({ page, log }) {
  await page.waitForFunction(() => window.__startMarks?.ready && window.__startMarks?.looksLike, null, { timeout: 300_000 }).catch(async (e) => {
    const seen = await page.evaluate(() => ({ marks: window.__startMarks, status: document.querySelector('[data-testid="status"]')?.textContent, looksLike: document.querySelector("#looks-like")?.textContent }));
    throw new Error(`${e.message}\n${JSON.stringify(seen)}\nconsole:\n${log.join("\n")}`);
  });
  return page.evaluate(() => window.__startMarks);
}

const rows = [];
const transfers = {};
try {
  console.log(`# cold start — ${cpus()[0].model} (${cpus().length} threads), headless Chromium, CPU backend, loopback server\n`);
  for (const link of LINKS) {
    const server = await serve({ "/": www }, { compress: "best", ...link });
    const profile = join(dir, `profile-${link.name.replace(/\W+/g, "-")}`);
    mkdirSync(profile);
    try {
      const s = await open(profile, "about:blank", cameraArgs);
      await s.page.addInitScript(MARKS);
      await s.page.goto(`${server.url}/index.html?backend=auto`);
      const first = await visit(s);
      const firstBytes = new Map(server.sent);
      // Let the service worker finish caching what it keeps, then come back.
      await s.page.waitForFunction(async () => (await navigator.serviceWorker?.ready)?.active?.state === "activated", null, { timeout: 600_000 });
      await s.page.waitForTimeout(2000);
      server.sent.clear();
      await s.page.goto(`${server.url}/index.html?backend=auto`);
      const repeat = await visit(s);
      const repeatBytes = [...server.sent.values()].reduce((a, b) => a + b, 0);
      await s.context.close();
      if (link.name === "warm-up") continue;
      const total = [...firstBytes.values()].reduce((a, b) => a + b, 0);
      rows.push({ link: link.name, firstReady: first.ready, firstLooksLike: first.looksLike, firstBytes: total, repeatReady: repeat.ready, repeatLooksLike: repeat.looksLike, repeatBytes });
      transfers[link.name] = Object.fromEntries(firstBytes);
    } finally {
      await server.close();
    }
  }
  const s = (ms) => (ms / 1000).toFixed(2);
  const mb = (b) => (b / 1e6).toFixed(2);
  console.log("| link | first visit: ready (s) | first prediction (s) | transferred (MB) | repeat visit: ready (s) | first prediction (s) | transferred (MB) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.link} | ${s(r.firstReady)} | ${s(r.firstLooksLike)} | ${mb(r.firstBytes)} | ${s(r.repeatReady)} | ${s(r.repeatLooksLike)} | ${mb(r.repeatBytes)} |`);
  console.log("\nbytes per resource, first visit (as sent, compressed; a path fetched twice counts twice):\n");
  console.log("| resource | bytes |\n|---|---|");
  for (const [path, bytes] of Object.entries(transfers[LINKS[1].name]).sort((a, b) => b[1] - a[1])) console.log(`| ${path} | ${bytes} |`);
  if (out) writeFileSync(out, JSON.stringify({ machine: `${cpus()[0].model} (${cpus().length} threads)`, rows, transfers }, null, 2));
} finally {
  await Promise.all([...sessions].map((c) => c.close()));
}
