// The package's TypeScript declarations (`pkg/webgpu/cvm_wasm.d.ts`, generated from `crates/cvm-wasm/src/shapes.rs`
// and the methods' signatures, identical to the CPU-only build's, re-exported by `pkg/index.d.ts`) against what the
// package does, so neither can move
// without the other: the class has exactly the methods and getters declared, and every value the package hands
// back (return values, progress reports, settings) has exactly the declared fields, each of the declared type.
// The declarations are read with the TypeScript compiler's parser; the package runs in Node (CPU backend).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { scratchDir, serve } from "./lib/browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "pkg");
const assets = process.env.CVM_ASSETS;

/** The declarations file's interfaces, type aliases and the `Learner` class. */
function declarations() {
  const text = readFileSync(join(pkg, "webgpu", "cvm_wasm.d.ts"), "utf8");
  const file = ts.createSourceFile("cvm_wasm.d.ts", text, ts.ScriptTarget.Latest, true);
  const interfaces = new Map();
  const aliases = new Map();
  let learner;
  for (const node of file.statements) {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
    if (ts.isTypeAliasDeclaration(node)) aliases.set(node.name.text, node.type);
    if (ts.isClassDeclaration(node) && node.name?.text === "Learner") learner = node;
  }
  return { interfaces, aliases, learner };
}

const { interfaces, aliases, learner: declaredClass } = declarations();

/** What is wrong with `value` as a `type` (a type node of the declarations); empty when nothing is. */
function mismatches(value, type, path) {
  const K = ts.SyntaxKind;
  const is = (ok, expected) => (ok ? [] : [`${path}: ${describe(value)} is not ${expected}`]);
  switch (type.kind) {
    case K.NumberKeyword:
      return is(typeof value === "number", "a number");
    case K.StringKeyword:
      return is(typeof value === "string", "a string");
    case K.BooleanKeyword:
      return is(typeof value === "boolean", "a boolean");
    case K.VoidKeyword:
    case K.UndefinedKeyword:
      return is(value === undefined, "undefined");
    case K.LiteralType:
      if (type.literal.kind === K.NullKeyword) return is(value === null, "null");
      return is(value === type.literal.text, JSON.stringify(type.literal.text));
    case K.ParenthesizedType:
      return mismatches(value, type.type, path);
    case K.UnionType: {
      const each = type.types.map((t) => mismatches(value, t, path));
      return each.some((m) => m.length === 0) ? [] : [`${path}: ${describe(value)} is none of ${type.getText()}`];
    }
    case K.ArrayType:
      if (!Array.isArray(value)) return is(false, "an array");
      return value.flatMap((v, i) => mismatches(v, type.elementType, `${path}[${i}]`));
    case K.TypeReference: {
      const name = type.typeName.getText();
      const [first, second] = type.typeArguments ?? [];
      if (name === "Promise") return mismatches(value, first, path);
      if (["Uint8Array", "Float32Array"].includes(name)) return is(value instanceof globalThis[name], `a ${name}`);
      if (name === "Required") return fields(value, interfaces.get(first.typeName.getText()), path, true);
      if (name === "Record") {
        if (typeof value !== "object" || value === null) return is(false, "an object");
        return Object.entries(value).flatMap(([k, v]) => mismatches(v, second, `${path}.${k}`));
      }
      if (interfaces.has(name)) return fields(value, interfaces.get(name), path, false);
      if (aliases.has(name)) return mismatches(value, aliases.get(name), path);
      if (name === "Learner") return is(value?.constructor?.name === "Learner", "a Learner");
      return [`${path}: the test cannot check the type ${name}`];
    }
    default:
      return [`${path}: the test cannot check ${type.getText()}`];
  }
}

/** `value` against an interface: no undeclared field, every required field present, each of its type. */
function fields(value, declaration, path, allRequired) {
  if (typeof value !== "object" || value === null) return [`${path}: ${describe(value)} is not an object`];
  const members = new Map(declaration.members.map((m) => [m.name.getText(), m]));
  const problems = Object.keys(value).filter((k) => !members.has(k)).map((k) => `${path}.${k} is not declared in ${declaration.name.text}`);
  for (const [name, member] of members) {
    if (value[name] === undefined && member.questionToken && !allRequired) continue;
    if (value[name] === undefined) problems.push(`${path}.${name} is declared in ${declaration.name.text} but missing`);
    else problems.push(...mismatches(value[name], member.type, `${path}.${name}`));
  }
  return problems;
}

/** The type of the argument a callback field of an options interface is called with (`onProgress`). */
const callbackArgument = (options, field) => interfaces.get(options).members.find((m) => m.name.getText() === field).type.parameters[0].type;

const describe = (v) => (ArrayBuffer.isView(v) ? v.constructor.name : JSON.stringify(v)?.slice(0, 80) ?? String(v));

/** Declared members of `Learner`: methods (static or not) and getters, with their return types. */
function declaredMembers() {
  const members = new Map();
  for (const m of declaredClass.members) {
    if (ts.isConstructorDeclaration(m) || !m.name || ts.isComputedPropertyName(m.name)) continue;
    const isStatic = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword) ?? false;
    members.set(`${isStatic ? "static " : ""}${m.name.getText()}`, m.type);
  }
  return members;
}

test("the declarations and the package agree on every method and every value it returns", { timeout: 300_000 }, async () => {
  assert.ok(assets, "CVM_ASSETS is unset: run through `cargo xtask test`");
  const { default: init, Learner } = await import(join(pkg, "index.js"));
  await init({ cpu: readFileSync(join(pkg, "cpu", "cvm_wasm_bg.wasm")) });
  const build = await import(join(pkg, "cpu", "cvm_wasm.js"));

  // Methods and getters: declared ⇔ present (the statics on the package's Learner, the methods on its builds').
  const declared = declaredMembers();
  const own = (o) => Object.getOwnPropertyNames(o).filter((n) => !n.startsWith("__") && n !== "constructor");
  const statics = (c) => own(c).filter((n) => !["length", "name", "prototype"].includes(n)).map((n) => `static ${n}`);
  assert.deepEqual(statics(Learner).sort(), statics(build.Learner).sort(), "the package's Learner vs its build's: statics");
  const present = [...own(build.Learner.prototype), ...statics(Learner)];
  assert.deepEqual([...declared.keys()].sort(), present.sort(), "methods declared in the .d.ts vs present on Learner");

  // Values: every method called once (the concept blob fetched from a URL, so load progress is reported too).
  const server = await serve({ "/": assets });
  const checked = new Set();
  const expect = (value, type, what) => {
    assert.deepEqual(mismatches(value, type, what), [], `${what} does not match its declaration`);
    checked.add(what.split(/[(.]/)[0]);
  };
  const returns = (name) => declared.get(name);
  try {
    const SIDE = 32;
    const frame = Uint8Array.from({ length: SIDE * SIDE * 4 }, (_, i) => (i * 31) % 251);
    const progress = [];
    const options = { concepts: `${server.url}/concepts-smollm2.safetensors`, backend: "cpu", settings: { inputSize: SIDE, batchSize: 4 }, onProgress: (p) => progress.push(p) };
    const learner = await Learner.create(options);
    assert.ok(learner instanceof Learner && learner instanceof build.Learner, "a learner on the CPU comes from the CPU-only build");
    expect(learner, returns("static create"), "create()");
    progress.forEach((p, i) => expect(p, callbackArgument("LearnerOptions", "onProgress"), `create.onProgress[${i}]`));
    assert.ok(progress.length >= 2, "create reported its download");
    const results = {};
    const call = async (name, ...args) => {
      const value = await learner[name](...args);
      expect(value, returns(name), `${name}()`);
      results[name] = value;
      return value;
    };
    await call("recognise", frame, 3, SIDE, SIDE); // before the first class: prediction null
    await call("addClass", "cat");
    await call("addClass", "dog");
    for (let i = 0; i < 3; i++) {
      await call("addExample", "cat", frame.map((v) => (v + i * 40) % 256), SIDE, SIDE);
      await call("addExample", 1, frame.map((v) => 255 - ((v + i * 40) % 256)), SIDE, SIDE);
    }
    const reports = [];
    await call("train", { steps: 4, reportEvery: 2, onProgress: (r) => reports.push(r) });
    assert.ok(reports.length >= 2, "train reported its progress");
    reports.forEach((r, i) => expect(r, callbackArgument("TrainOptions", "onProgress"), `train.onProgress[${i}]`));
    for (const name of ["backend", "backendReason", "inputSize", "classes", "settings", "vocabulary"]) expect(learner[name] instanceof Function ? learner[name]() : learner[name], returns(name), `${name}()`);
    await call("suggest", "ca", 3);
    await call("examples", "cat");
    await call("predict", frame, SIDE, SIDE);
    await call("recognise", frame, 3, SIDE, SIDE);
    await call("rankVocabulary", frame, 3, SIDE, SIDE);
    const sample = await call("encode", frame, SIDE, SIDE);
    await call("classAccuracy", sample, ["cat"]);
    await call("conceptMap", sample, ["cat"], 2);
    await call("setAcceptRate", 0.9);
    await call("configure", { memory: 400, learningRate: 0.002 });
    assert.equal(learner.settings().memory, 400);
    const bytes = await call("save");
    const restored = await Learner.load(bytes, { ...options, onProgress: undefined });
    expect(restored, returns("static load"), "load()");
    restored.free();
    // Errors: a declared name each, and an unknown concept's suggestions.
    const failures = [
      () => learner.addClass("kittten"),
      () => learner.addClass("cat"),
      () => learner.removeClass("bird"),
      () => learner.addExample("cat", frame, SIDE + 1, SIDE),
      () => learner.train({ steps: -1 }),
      () => Learner.load(new Uint8Array(64), options),
      () => learner.configure({ inputSize: 64 }),
      () => {
        // A call made while training runs (it yields to the event loop at each report) is refused; wait for the
        // training before going on.
        const first = learner.train({ steps: 2, reportEvery: 1 });
        const refusal = learner.predict(frame, SIDE, SIDE).then(() => null, (e) => e);
        return first.then(() => refusal).then((e) => { if (e) throw e; });
      },
    ];
    const names = [];
    for (const [i, fail] of failures.entries()) {
      const error = await Promise.resolve().then(fail).then(() => assert.fail(`failure ${i} did not fail`), (e) => e);
      assert.ok(error instanceof Error, `failure ${i}: ${describe(error)}`);
      expect(error.name, aliases.get("ErrorName"), `error[${i}].name`);
      names.push(error.name);
    }
    assert.deepEqual(names, ["UnknownConceptError", "DuplicateClassError", "UnknownClassError", "InvalidImageError", "Error", "InvalidBlobError", "Error", "BusyError"]);
    const unknown = await Promise.resolve().then(failures[0]).catch((e) => e);
    assert.ok(unknown.suggestions.includes("kitten"), `suggestions: ${unknown.suggestions}`);
    await call("removeExample", results.examples[0]);
    await call("stopTraining");
    await call("removeClass", "dog");
    await call("dispose");
    const unchecked = [...declared.keys()].map((k) => k.replace("static ", "")).filter((k) => !checked.has(k) && k !== "free");
    assert.deepEqual(unchecked, [], "declared methods this test never called");
    assert.notEqual(results.recognise.prediction, null, "with classes, a recognition has a prediction");
  } finally {
    await server.close();
  }
});

test("an app written against the package's index.d.ts type-checks, and misuse does not", () => {
  // Each `@ts-expect-error` line must be an error: were it accepted, the directive itself would be reported.
  const app = join(scratchDir("cvm-types-"), "app.ts");
  writeFileSync(
    app,
    `import init, { Learner, preferredBackend, type Prediction, type WasmSources } from ${JSON.stringify(join(pkg, "index.js"))};
const sources: WasmSources = { cpu: new URL("cpu.wasm", "https://example.org/") };
await init(sources);
const { backend, reason } = await preferredBackend("auto");
const learner: Learner = await Learner.create({ concepts: "/concepts.safetensors", backend });
const prediction: Prediction = await learner.predict(new ImageData(1, 1));
const again = await Learner.load(await learner.save(), { concepts: "/concepts.safetensors" });
again.free();
// @ts-expect-error: init takes where the builds are, not a string
await init("cpu.wasm");
// @ts-expect-error: a backend is "auto", "webgpu" or "cpu"
await preferredBackend("gpu");
// @ts-expect-error: a learner needs its concepts
await Learner.create({ backend: "cpu" });
export { prediction, reason };
`,
  );
  const options = { noEmit: true, strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"] };
  const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([app], options));
  assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), []);
});

test("the checker finds what is wrong", () => {
  // The checker must be able to fail: a field too many, one missing, one of the wrong type.
  const prediction = { label: "cat", score: 1, unknown: false, openSetScore: null, scores: [{ label: "cat", score: 1, similarity: 0.5 }] };
  const type = interfaces.get("Prediction");
  assert.deepEqual(fields(prediction, type, "p", false), []);
  assert.match(fields({ ...prediction, extra: 1 }, type, "p", false).join(), /p\.extra is not declared/);
  assert.match(fields({ ...prediction, score: undefined }, type, "p", false).join(), /p\.score is declared .* but missing/);
  assert.match(fields({ ...prediction, openSetScore: "high" }, type, "p", false).join(), /p\.openSetScore: "high" is none of/);
  assert.match(fields({ ...prediction, scores: [{ label: 3, score: 1, similarity: 0 }] }, type, "p", false).join(), /p\.scores\[0\]\.label: 3 is not a string/);
});
