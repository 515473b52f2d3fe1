// cvm-wasm: one API over two builds of the same façade (see index.js); the declarations are the builds' own.
export type * from "./webgpu/cvm_wasm.js";
export { Learner, preferredBackend } from "./webgpu/cvm_wasm.js";
import type { InitInput } from "./webgpu/cvm_wasm.js";

/** Where each build's wasm is, when it is not beside its module (Node, some bundlers). */
export interface WasmSources {
  /** The CPU-only build's `cpu/cvm_wasm_bg.wasm`: loaded by `init()`. */
  cpu?: InitInput | Promise<InitInput>;
  /** The whole build's `webgpu/cvm_wasm_bg.wasm`: loaded when a learner first needs WebGPU. */
  webgpu?: InitInput | Promise<InitInput>;
}

/** Loads the CPU-only build; the build with WebGPU follows only when a learner is created or loaded for WebGPU. */
export default function init(sources?: WasmSources): Promise<void>;
