// The trunk's forward pass in this learner, shared by the page (bench.js) and the threads build's worker
// (trunk-worker.js): a 224×224 RGBA frame → its 1280 features, preprocessing included.

export const CONCEPTS = "/assets/concepts-smollm2.safetensors";
export const STUDENT = "/assets/trunk-efficientnet-lite0.safetensors";

/** Noise frames (seeded), RGBA. */
export function randomRgba(side, seed, height = side) {
  let s = seed >>> 0 || 1;
  const data = new Uint8Array(side * height * 4);
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (i & 3) === 3 ? 255 : s & 255;
  }
  return data;
}

/** `runs` timings of `once()` after `warmup` calls. */
export async function timed(once, warmup, runs) {
  const times = [];
  for (let i = 0; i < warmup + runs; i++) {
    const started = performance.now();
    await once(i);
    if (i >= warmup) times.push(performance.now() - started);
  }
  return times;
}

/** `runs` forward passes after `warmup`, with the package at `pkg`; `threads` > 0 starts that many workers first
 * (the threads build only). */
export async function oursTrunk(backend, warmup, runs, { pkg = "/pkg/index.js", threads = 0 } = {}) {
  const { default: init, Learner, initThreadPool } = await import(pkg);
  await init();
  if (threads) await initThreadPool(threads);
  const learner = await Learner.create({ concepts: CONCEPTS, student: STUDENT, backend });
  const frames = [1, 2].map((seed) => randomRgba(224, seed));
  const times = await timed((i) => learner.encode(frames[i % 2], 224, 224), warmup, runs);
  const result = { backend: learner.backend, threads: learner.backend === "cpu" ? Math.max(threads, 1) : undefined, times };
  learner.free();
  return result;
}
