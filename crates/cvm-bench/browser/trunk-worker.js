// The threads build's trunk timing, in a worker of a cross-origin-isolated page (see bench.js).

import { oursTrunk } from "./trunk.js";

onmessage = async ({ data: { threads, warmup, runs } }) => {
  try {
    postMessage(await oursTrunk("cpu", warmup, runs, { pkg: "/pkg-threads/cvm_wasm.js", threads }));
  } catch (error) {
    postMessage({ error: String(error?.message ?? error) });
  }
};
