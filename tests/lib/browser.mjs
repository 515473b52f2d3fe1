// Shared test plumbing: Debian's Chromium driven by Playwright, and the static file server on loopback.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "./serve.mjs";

export { serve };

/** Debian's Chromium, headless, with WebGPU (SwiftShader) enabled and the closed network kept quiet. */
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...extraArgs,
    ],
  });
}

/** Fails the test with the page's console errors attached. */
export function collectConsole(page) {
  const lines = [];
  page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
  return lines;
}

/** A new directory under the system's temporary one (browser profiles, camera clips: ~150 MB a test), removed
 * when the process exits, whether the test passed or not. */
export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Chromium with a blank page on a loopback server that serves the package (`pkg`) at /pkg/, `tests/lib` at
 * /lib/ and `assets` at /assets/, for driving the package inside a page; `close()` ends both. */
export async function packagePage(pkg, assets) {
  const server = await serve({ "/pkg/": pkg, "/lib/": dirname(fileURLToPath(import.meta.url)), "/assets/": assets });
  const browser = await launch();
  const page = await browser.newPage();
  const log = collectConsole(page);
  await page.goto(`${server.url}/lib/blank.html`);
  return { browser, page, log, close: async () => (await browser.close(), await server.close()) };
}
