// cvm-wasm: one API over two builds of the same façade. `init()` loads the CPU-only build (a seventh of the whole
// build's size), which is all that a learner on the CPU ever needs; the whole build, with WebGPU, is fetched and
// started the first time a learner is created or loaded for WebGPU (`backend: "webgpu"`, or `"auto"` where WebGPU
// runs on a hardware adapter). Both builds come from one Rust crate and declare the same API.

import initCpu, * as cpu from "./cpu/cvm_wasm.js";

let sources = {}; // where each build's wasm is, when not beside its module
/** A build's start-up argument for `source` (none: the wasm beside the build's module). */
const input = (source) => (source === undefined ? undefined : { module_or_path: source });
let cpuReady = null;
let whole = null; // the whole build, as a promise once asked for
let wholeBuild = null; // …and once started

/** Loads the CPU-only build. `sources.cpu` / `sources.webgpu` say where each build's wasm is when it is not
 * beside its module (Node, some bundlers): a URL, a Response, the bytes or a compiled module. */
export default function init(wasm) {
  if (wasm !== undefined && (wasm === null || typeof wasm !== "object")) {
    return Promise.reject(new TypeError("init(sources): sources must be an object such as { cpu, webgpu }, or left out"));
  }
  if (!cpuReady) {
    sources = { ...wasm };
    cpuReady = initCpu(input(sources.cpu)).catch((error) => {
      cpuReady = null; // a failed start can be tried again
      throw error;
    });
  }
  return cpuReady.then(() => undefined);
}

/** The build that runs `preference` here: the CPU-only one, or the whole one once WebGPU is chosen. */
async function buildFor(preference) {
  const { backend } = await preferredBackend(preference ?? "auto");
  // Where there is no WebGPU at all (Node, most workers), the CPU-only build answers a request for it: it says so.
  if (backend === "cpu" || !globalThis.navigator?.gpu) return cpu;
  whole ??= import("./webgpu/cvm_wasm.js").then(async (build) => {
    await build.default(input(sources.webgpu));
    return (wholeBuild = build);
  });
  return whole.catch((error) => {
    whole = null;
    throw error;
  });
}

/** Which backend a preference leads to here, and why, without starting anything. */
export async function preferredBackend(preference) {
  await init();
  return cpu.preferredBackend(preference);
}

/** The learner: made by `create` or `load` in the build its backend needs; `instanceof` holds for either build's. */
export class Learner {
  constructor() {
    throw new TypeError("use Learner.create(options) or Learner.load(bytes, options)");
  }
  static async create(options) {
    return (await buildFor(options?.backend)).Learner.create(options);
  }
  static async load(snapshot, options) {
    return (await buildFor(options?.backend)).Learner.load(snapshot, options);
  }
  static [Symbol.hasInstance](value) {
    return value instanceof cpu.Learner || (wholeBuild !== null && value instanceof wholeBuild.Learner);
  }
}
