// The npm package used as an ordinary dependency: a tiny app creates a learner, teaches two classes, predicts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve, launch, collectConsole } from "./lib/browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const assets = process.env.CVM_ASSETS;

test("an app installs the package and learns two classes in the browser", { timeout: 600_000 }, async () => {
  assert.ok(assets, "CVM_ASSETS is unset: run through `cargo xtask test`");
  const server = await serve({ "/assets/": assets, "/": join(here, "npm-consumer") });
  const browser = await launch();
  try {
    // SwiftShader emulates WebGPU on the CPU: smaller batches keep that run short (the backend's numbers are
    // checked against the CPU's in the façade's own tests).
    for (const [backend, batch] of [["cpu", 32], ["webgpu", 8]]) {
      const page = await browser.newPage();
      const log = collectConsole(page);
      await page.goto(`${server.url}/index.html?backend=${backend}&batch=${batch}&concepts=/assets/concepts-smollm2.safetensors`);
      await page.waitForFunction(() => document.getElementById("result").textContent !== "running", null, { timeout: 540_000 });
      const result = JSON.parse(await page.textContent("#result"));
      assert.equal(result.error, undefined, `${backend}: ${result.error}\n${log.join("\n")}`);
      assert.equal(result.backend, backend);
      console.log(`npm consumer (${backend}): ${Math.round(result.accuracy * 20)}/20 fresh images right`);
      assert.ok(result.accuracy >= 0.9, `${backend}: accuracy ${result.accuracy}`);
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});
