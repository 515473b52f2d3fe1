// A static file server on loopback that answers like a static host: `ETag` with `304`, `Cache-Control: no-cache`,
// and, when asked, brotli or gzip as the request accepts, with `Content-Encoding`. Node built-ins only. The tests
// and benchmarks import it; `cargo xtask demo` runs it on the page Trunk assembled:
//   node tests/lib/serve.mjs DIR [--port N]

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { brotliCompress, constants, gzip } from "node:zlib";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

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

/** Compression settings: "best" as files compressed ahead of time for a static host, "fast" as a server that
 * compresses on the fly (the page's first visit 2 % larger, its wasm 14 %; 15× faster to make). */
const LEVELS = {
  best: { br: { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } }, gzip: { level: 9 } },
  fast: { br: { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24 } }, gzip: { level: 6 } },
};
const COMPRESSORS = { br: promisify(brotliCompress), gzip: promisify(gzip) };
const encoded = new Map(); // `${level}:${encoding}:${etag}:${file}` → its compressed body, made once per process

/** Serves `routes` (URL prefix → directory) on 127.0.0.1 (`port`, else any free one); resolves with { url, served
 * (paths answered), sent (path → bytes of body sent), close }. Like a static host, it answers `If-None-Match` with
 * 304. Options: `compress` ("best" or "fast": brotli or gzip, as the request accepts), and, for the start-up
 * benchmark, a link of `bitsPerSecond` shared by every response, each delayed by `latencyMs`; `isolated` sends
 * the headers that make a page cross-origin isolated (shared memory, so wasm threads); `aliases` (path → path)
 * answers a path with another's file. */
export async function serve(routes, { compress = null, bitsPerSecond = 0, latencyMs = 0, port = 0, isolated = false, aliases = {} } = {}) {
  const served = []; // the paths answered, in order
  const sent = new Map();
  let linkFree = 0; // when the shared link can send its next byte (ms, performance.now())
  const server = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    path = aliases[path] ?? path;
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (file !== normalize(dir) && !file.startsWith(join(dir, sep))) break; // nothing outside `dir`
      try {
        let info = await stat(file);
        if (info.isDirectory()) [file, info] = [join(file, "index.html"), await stat(join(file, "index.html"))];
        const etag = `"${info.size}-${Math.floor(info.mtimeMs)}"`;
        const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", etag, "cache-control": "no-cache" };
        if (isolated) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
        if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
        served.push(path);
        if (req.headers["if-none-match"] === etag) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        const accepted = compress ? (req.headers["accept-encoding"] ?? "") : "";
        const encoding = /\bbr\b/.test(accepted) ? "br" : /\bgzip\b/.test(accepted) ? "gzip" : null;
        let body;
        if (encoding) {
          const key = `${compress}:${encoding}:${etag}:${file}`;
          if (!encoded.has(key)) encoded.set(key, readFile(file).then((raw) => COMPRESSORS[encoding](raw, LEVELS[compress][encoding])));
          body = await encoded.get(key);
          Object.assign(headers, { "content-encoding": encoding, vary: "accept-encoding" });
        } else {
          body = await readFile(file);
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
  await new Promise((done, fail) => server.once("error", fail).listen(port, "127.0.0.1", done));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, served, sent, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, ...rest] = process.argv.slice(2);
  const port = rest[0] === "--port" ? Number(rest[1]) : 8080;
  if (!dir || !Number.isInteger(port)) throw new Error("usage: node serve.mjs DIR [--port N]");
  const { url } = await serve({ "/": resolve(dir) }, { compress: "fast", port });
  console.log(`serving ${resolve(dir)} on ${url}/ (brotli or gzip as the browser accepts; Ctrl-C stops)`);
}

