// The package's argument fuzz, shared by Node and the browser (no Node imports): every method, every argument
// position, a bank of values JavaScript may pass, then random and damaged bytes as blobs and snapshots. Each call
// must resolve or reject with an Error that says something — never trap (a wasm trap leaves the module unusable)
// and never hang — and the learner must answer normally afterwards, then still train, predict and round-trip.

export const SIDE = 32;
export const rgba = (seed) => Uint8Array.from({ length: SIDE * SIDE * 4 }, (_, i) => (i * 31 + seed * 97) % 251);
const detached = () => {
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
  return buffer;
};

/** What a caller might pass by mistake (and a few things that are right), in any JavaScript engine. */
export const BANK = [
  undefined, null, true, 0, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, 1e308, -0, 42n, "", "cat", "x".repeat(5000),
  "\u0000", "🐈", Symbol("s"), {}, [], [1, 2], { steps: "10" }, { length: 3 }, () => 1, new Uint8Array(0), new Uint8Array(7),
  new Float32Array(3), new Float64Array(4), new ArrayBuffer(16), detached(), new Map(), new Date(0), Object.create(null),
  { width: 1e9, height: 1e9 }, { videoWidth: 64, videoHeight: 64 },
];

export const show = (v) => {
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `${v.constructor.name}(${v.byteLength})`;
  const kind = Object.prototype.toString.call(v).slice(8, -1);
  if (/^(ImageBitmap|ImageData|HTML\w+Element|OffscreenCanvas|VideoFrame)$/.test(kind)) return `${kind}(${v.width ?? v.displayWidth}×${v.height ?? v.displayHeight})`;
  try {
    return typeof v === "bigint" ? `${v}n` : typeof v === "symbol" ? v.toString() : typeof v === "function" ? "a function" : (JSON.stringify(v) ?? String(v)).slice(0, 40);
  } catch {
    return `[${kind}]`;
  }
};

const check = (ok, message) => {
  if (!ok) throw new Error(message);
};

/**
 * Runs the fuzz against `Learner` (an initialised package) with the concept blob `concepts`; `extra` adds values
 * to the bank (the browser's image sources). Resolves with a summary line per part; throws on the first failure.
 */
export async function fuzzArguments({ Learner, concepts, backend = "cpu", extra = [] }) {
  const bank = [...BANK, ...extra];
  const options = { concepts, backend, settings: { inputSize: SIDE, batchSize: 4 } };
  const learner = await Learner.create(options);
  learner.addClass("cat");
  learner.addClass("dog");
  for (let i = 0; i < 4; i++) {
    await learner.addExample("cat", rgba(i), SIDE, SIDE);
    await learner.addExample("dog", rgba(100 + i), SIDE, SIDE);
  }
  await learner.train({ steps: 2 });
  const snapshot = await learner.save();
  const frame = rgba(7);
  const sample = await learner.encode(frame, SIDE, SIDE);

  // Each method with a valid call; the fuzz replaces one argument at a time with each value of the bank.
  const calls = {
    create: [(o) => Learner.create(o), [options]],
    load: [(b, o) => Learner.load(b, o), [snapshot, options]],
    suggest: [(t, k) => learner.suggest(t, k), ["ca", 3]],
    addClass: [(n) => learner.addClass(n), ["bird"]],
    removeClass: [(l) => learner.removeClass(l), ["bird"]],
    addExample: [(l, f, w, h) => learner.addExample(l, f, w, h), ["cat", frame, SIDE, SIDE]],
    removeExample: [(id) => learner.removeExample(id), [10_000]],
    examples: [(l) => learner.examples(l), ["cat"]],
    train: [(o) => (learner.stopTraining(), learner.train(o)), [{ steps: 1 }]],
    predict: [(f, w, h) => learner.predict(f, w, h), [frame, SIDE, SIDE]],
    rankVocabulary: [(f, k, w, h) => learner.rankVocabulary(f, k, w, h), [frame, 3, SIDE, SIDE]],
    recognise: [(f, k, w, h) => learner.recognise(f, k, w, h), [frame, 3, SIDE, SIDE]],
    encode: [(f, w, h) => learner.encode(f, w, h), [frame, SIDE, SIDE]],
    classAccuracy: [(s, l) => learner.classAccuracy(s, l), [sample, ["cat"]]],
    conceptMap: [(s, l, n) => learner.conceptMap(s, l, n), [sample, ["cat"], 2]],
    setAcceptRate: [(r) => learner.setAcceptRate(r), [0.9]],
    configure: [(s) => learner.configure(s), [{ acceptRate: 0.9 }]],
  };
  let made = 0;
  let accepted = 0;
  const refused = new Map(); // message → count
  for (const [name, [call, valid]] of Object.entries(calls)) {
    for (let position = 0; position < valid.length; position++) {
      for (const value of bank) {
        const args = valid.with(position, value);
        const what = `${name}(${args.map((a, i) => (i === position ? show(a) : "…")).join(", ")})`;
        let timer;
        try {
          const outcome = await Promise.race([
            Promise.resolve().then(() => call(...args)),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("HANG")), 20_000))),
          ]);
          if (outcome instanceof Learner) outcome.free();
          accepted++;
        } catch (error) {
          check(error instanceof Error, `${what} threw a non-Error: ${show(error)}`);
          check(error.message !== "HANG", `${what} did not settle within 20 s`);
          check(!(error instanceof WebAssembly.RuntimeError), `${what} trapped: ${error.message}`);
          check(error.message.length > 10, `${what}: "${error.message}" says nothing`);
          const key = error.message.slice(0, 60);
          refused.set(key, (refused.get(key) ?? 0) + 1);
        } finally {
          clearTimeout(timer);
        }
        made++;
        // Still whole: it answers, and recognises a frame. (A valid call may have removed a class: put it back.)
        const classes = learner.classes().map((c) => c.label);
        check(Array.isArray(classes), `after ${what}: classes() answered ${show(classes)}`);
        for (const name of ["cat", "dog"].filter((n) => !classes.includes(n))) learner.addClass(name);
        if (classes.includes("bird")) learner.removeClass("bird");
        if (made % 7 === 0) {
          const p = await learner.predict(frame, SIDE, SIDE);
          check(Number.isFinite(p.score), `after ${what}: prediction ${JSON.stringify(p)}`);
        }
      }
    }
  }
  check(Number.isFinite((await learner.predict(frame, SIDE, SIDE)).score), "the learner no longer predicts");
  const lines = [`${made} argument calls, ${made - accepted} refused with an Error (${refused.size} distinct messages), none trapped or hung`];

  // Bytes: seeded random blobs, and a valid snapshot and concept blob with bytes flipped or cut off. Every one
  // must be refused with an Error, or (a flip the format does not cover) load a learner that works.
  let seed = 20261128;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const mutated = (bytes) => {
    const copy = bytes.slice(0, random() < 0.3 ? Math.floor(random() * bytes.length) : bytes.length);
    for (let i = 0, n = 1 + Math.floor(random() * 4); i < n && copy.length; i++) copy[Math.floor(random() * copy.length)] ^= 1 + Math.floor(random() * 255);
    return copy;
  };
  const byteCases = [
    ...Array.from({ length: 200 }, () => ["load", Uint8Array.from({ length: Math.floor(random() * 300) }, () => random() * 256)]),
    ...Array.from({ length: 300 }, () => ["load", mutated(snapshot)]),
    ...Array.from({ length: 40 }, () => ["create", mutated(concepts)]),
  ];
  let loaded = 0;
  for (const [i, [kind, bytes]] of byteCases.entries()) {
    try {
      const other = kind === "load" ? await Learner.load(bytes, options) : await Learner.create({ ...options, concepts: bytes });
      loaded++;
      other.free();
    } catch (error) {
      check(error instanceof Error && !(error instanceof WebAssembly.RuntimeError) && error.message.length > 10, `${kind} byte case ${i} (seed 20261128): ${show(error)}`);
    }
  }
  // And it still learns, predicts and round-trips.
  await learner.addExample("cat", rgba(9), SIDE, SIDE);
  check((await learner.train({ steps: 2 })).steps === 2, "train({ steps: 2 }) did not run two steps");
  const again = await Learner.load(await learner.save(), options);
  const [a, b] = [(await again.predict(frame, SIDE, SIDE)).scores, (await learner.predict(frame, SIDE, SIDE)).scores];
  check(JSON.stringify(a) === JSON.stringify(b), `a saved and loaded learner predicts ${a}, the original ${b}`);
  again.free();
  learner.free();
  lines.push(`${byteCases.length} byte cases (random, flipped, cut off): ${byteCases.length - loaded} refused with an Error, ${loaded} loaded and worked`);
  return lines;
}
