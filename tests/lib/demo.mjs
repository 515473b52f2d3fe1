// The demo page driven as a person would: a fake webcam playing a clip of a photo, one browser session per
// thing taught (the profile, and so IndexedDB, is kept between sessions).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { basename, join } from "node:path";
import { chromium } from "playwright-core";
import { collectConsole } from "./browser.mjs";

/** A 6 s, 10 fps, 320×240 y4m clip of `photo` under a slowly moving crop (so frames differ), written to `dir`. */
export function clip(dir, photo) {
  const out = join(dir, basename(photo).replace(/\.\w+$/, ".y4m"));
  execFileSync("ffmpeg", [
    "-loglevel", "error", "-y", "-loop", "1", "-i", photo, "-t", "6",
    "-vf", "scale=480:480,crop=320:240:x='60+60*sin(t*2)':y='80+60*cos(t*1.3)',fps=10,format=yuv420p",
    out,
  ]);
  return out;
}

const FLAGS = ["--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** Chromium flags that make `file` (a y4m clip) the camera. */
export const camera = (file) => ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${file}`];

/** Browser sessions still open, so a failing test can close them all. */
export const sessions = new Set();

/** Opens `url` in a browser with its own persistent `profile`: { context, page, requests, log }. */
export async function open(profile, url, cameraArgs) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [...FLAGS, ...cameraArgs],
    viewport: { width: 1280, height: 1000 },
  });
  sessions.add(context);
  context.on("close", () => sessions.delete(context));
  const page = context.pages()[0] ?? (await context.newPage());
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const log = collectConsole(page);
  await page.goto(url);
  return { context, page, requests, log };
}

/** Waits until the status starts with "ready" (or is exactly "ready": idle and trained). */
export async function waitReady(page, log, { trained = false, timeout = 600_000 } = {}) {
  await page
    .waitForFunction((trained) => {
      const text = document.querySelector('[data-testid="status"]').textContent;
      return trained ? text === "ready" : /^ready/.test(text);
    }, trained, { timeout })
    .catch(async (e) => {
      const status = await page.textContent('[data-testid="status"]').catch(() => "?");
      throw new Error(`${e.message}\nstatus: ${status}\nconsole:\n${log.join("\n")}`);
    });
}

/**
 * Holds Record on the card of `name` for `ms`, then waits for the first prediction made after the release that
 * names it as known; resolves with the seconds from release to that prediction.
 */
export async function recordUntilRecognised({ page, log }, name, ms = 2000) {
  const record = page.locator(`[data-testid="class-card"][data-class="${name}"] [data-testid="record"]`);
  await record.hover();
  await page.mouse.down();
  await page.waitForTimeout(ms);
  const shown = Number((await page.getAttribute('[data-testid="prediction"]', "data-shown")) ?? 0);
  const released = Date.now();
  await page.mouse.up();
  await page
    .waitForFunction(([name, shown]) => {
      const p = document.querySelector('[data-testid="prediction"]');
      return Number(p.dataset.shown ?? 0) > shown && p.dataset.label === name && p.dataset.unknown === "false";
    }, [name, shown], { timeout: 300_000, polling: 20 })
    .catch(async (e) => assert.fail(`${e.message}\nstatus: ${await page.textContent('[data-testid="status"]')}\n${log.join("\n")}`));
  return (Date.now() - released) / 1000;
}

/** Waits until the page has saved everything after its last training. */
export const waitSaved = (page) => page.waitForSelector('[data-testid="status"]:not([data-saving])', { timeout: 300_000 });
