// The npm package used as an ordinary dependency: a tiny app creates a learner, teaches two classes, predicts —
// in Chromium on both backends, and in Firefox ESR and WebKit on the CPU (neither reaches a GPU here).

import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve, launch, collectConsole, scratchDir } from "./lib/browser.mjs";
import { firefox, until, webkit } from "./lib/engines.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const assets = process.env.CVM_ASSETS;

/** The app's page for `backend`, taught in batches of `batch`. */
const appUrl = (server, backend, batch = 32) => `${server.url}/index.html?backend=${backend}&batch=${batch}&concepts=/assets/concepts-smollm2.safetensors`;

/** Checks the app's result (the JSON it shows once done) and prints it. */
function check(text, engine, backend, log) {
  const result = JSON.parse(text);
  assert.equal(result.error, undefined, `${engine} (${backend}): ${result.error}\n${log.join("\n")}`);
  assert.equal(result.backend, backend);
  console.log(`npm consumer, ${engine} (${backend}): ${Math.round(result.accuracy * 20)}/20 fresh images right`);
  assert.ok(result.accuracy >= 0.9, `${engine} (${backend}): accuracy ${result.accuracy}`);
}

async function appServer() {
  assert.ok(assets, "CVM_ASSETS is unset: run through `cargo xtask test`");
  return serve({ "/assets/": assets, "/": join(here, "npm-consumer") });
}

test("an app installs the package and learns two classes in Chromium", { timeout: 600_000 }, async () => {
  const server = await appServer();
  const browser = await launch();
  try {
    // SwiftShader emulates WebGPU on the CPU: smaller batches keep that run short (the backend's numbers are
    // checked against the CPU's in the façade's own tests).
    for (const [backend, batch] of [["cpu", 32], ["webgpu", 8]]) {
      const page = await browser.newPage();
      const log = collectConsole(page);
      await page.goto(appUrl(server, backend, batch));
      await page.waitForFunction(() => document.getElementById("result").textContent !== "running", null, { timeout: 540_000 });
      check(await page.textContent("#result"), "Chromium", backend, log);
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

for (const [engine, start] of [
  ["Firefox ESR", () => firefox(scratchDir("cvm-firefox-"))],
  ["WebKit", webkit],
]) {
  test(`the app learns two classes in ${engine}`, { timeout: 600_000 }, async () => {
    const server = await appServer();
    const b = await start();
    try {
      await b.goto(appUrl(server, "cpu"));
      const text = await until(() => b.evaluate(() => document.getElementById("result").textContent !== "running" && document.getElementById("result").textContent), 540_000, "the app's result");
      check(text, engine, "cpu", b.log);
    } finally {
      await b.close();
      await server.close();
    }
  });
}
