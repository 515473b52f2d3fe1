// Shared test plumbing: a static file server on loopback and Debian's Chromium driven by Playwright.

import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".safetensors": "application/octet-stream",
};

const encoded = new Map(); // `${encoding}:${file}` → its compressed body, made once per process

/** Serves `routes` (URL prefix → directory) on 127.0.0.1; resolves with { url, served (paths answered), sent (path →
 * bytes of body sent), close }. Like a static host, it answers `If-None-Match` with 304. Options, for the start-up
 * benchmark: `compress` (brotli or gzip, as the request accepts, with `Content-Encoding`), and a link of
 * `bitsPerSecond` shared by every response, each delayed by `latencyMs`. */
export async function serve(routes, { compress = false, bitsPerSecond = 0, latencyMs = 0 } = {}) {
  const served = []; // the paths answered, in order
  const sent = new Map();
  let linkFree = 0; // when the shared link can send its next byte (ms, performance.now())
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(normalize(dir))) break;
      try {
        let info = await stat(file);
        if (info.isDirectory()) [file, info] = [join(file, "index.html"), await stat(join(file, "index.html"))];
        const etag = `"${info.size}-${Math.floor(info.mtimeMs)}"`;
        const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", etag, "cache-control": "no-cache" };
        if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
        served.push(path);
        if (req.headers["if-none-match"] === etag) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        let body = await readFile(file);
        const accepted = compress ? (req.headers["accept-encoding"] ?? "") : "";
        const encoding = /\bbr\b/.test(accepted) ? "br" : /\bgzip\b/.test(accepted) ? "gzip" : null;
        if (encoding) {
          const key = `${encoding}:${file}`;
          if (!encoded.has(key)) encoded.set(key, encoding === "br" ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } }) : gzipSync(body, { level: 9 }));
          body = encoded.get(key);
          Object.assign(headers, { "content-encoding": encoding, vary: "accept-encoding" });
        }
        res.writeHead(200, { ...headers, "content-length": body.length });
        sent.set(path, (sent.get(path) ?? 0) + body.length);
        if (!bitsPerSecond) return res.end(body);
        for (let at = 0; at < body.length; at += 16384) {
          const chunk = body.subarray(at, at + 16384);
          const start = Math.max(performance.now(), linkFree);
          linkFree = start + (chunk.length * 8 * 1000) / bitsPerSecond;
          await new Promise((r) => setTimeout(r, linkFree - performance.now()));
          res.write(chunk);
        }
        res.end();
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404);
    res.end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, served, sent, close: () => new Promise((r) => server.close(r)) };
}

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
