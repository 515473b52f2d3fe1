// The page's shell, against the modules it is made of: every module the page imports is preloaded by index.html
// (fetched at once instead of one level of imports after another, each level a round trip), and every file the
// page and its worker load is in the service worker's cache list (else the page cannot start offline). Read from
// the files themselves, so a module added without being listed fails here, in a second.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const www = join(dirname(fileURLToPath(import.meta.url)), "..", "www");
const read = (path) => readFileSync(join(www, path), "utf8");

/** `entry` and every module it imports, directly or not (static imports; with `workers`, a worker's script and its
 * imports too), as paths relative to www/. */
function graph(entry, { workers = false } = {}) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = read(path);
    const imports = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)];
    const started = workers ? [...text.matchAll(/new Worker\(new URL\("(\.{1,2}\/[^"]+)"/g)] : [];
    for (const [, s] of [...imports, ...started]) visit(relative(www, normalize(join(www, dirname(path), s))));
  };
  visit(entry);
  return seen;
}

test("index.html preloads every module the page imports", () => {
  const imported = [...graph("app.js")].filter((p) => p !== "app.js");
  assert.ok(imported.includes("page/state.js"), `the import graph was not followed: ${imported}`);
  const preloaded = [...read("index.html").matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(preloaded.sort(), imported.sort());
});

test("the service worker caches every file the page and its worker load", () => {
  const loaded = graph("app.js", { workers: true });
  assert.ok(loaded.has("worker.js") && loaded.has("generated/pkg/index.js"), `the worker was not followed: ${[...loaded]}`);
  const shell = JSON.parse(read("sw.js").match(/const SHELL = (\[[^\]]*\]);/)[1].replace(/,\s*\]/, "]"));
  assert.deepEqual([...loaded].filter((p) => !shell.includes(p)), [], "files the page loads that sw.js does not cache");
});
