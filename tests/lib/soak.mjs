// The soak's session, shared by Node and the browser (no Node imports): classes taught one after another (eight
// new frames, then up to 60 training steps each) until `steps` steps, then `predictions` frames recognised, with
// `sample(phase, done)` called as it goes so the caller can read whatever memory it can see.

const SIDE = 224;
const NAMES = ["cat", "dog", "strawberry", "drum", "bird", "beaker", "jeep", "yurt", "cannon", "dalmatian"];
const frame = (seed) => Uint8Array.from({ length: SIDE * SIDE * 4 }, (_, i) => (i * 31 + seed * 97 + ((i >> 9) % 7) * 13) % 251);

export async function soak({ learner, steps: total, predictions, sample }) {
  await sample("start", 0);
  let steps = 0;
  for (let k = 0; steps < total; k++) {
    const label = NAMES[k % NAMES.length];
    if (!learner.classes().some((c) => c.label === label)) learner.addClass(label);
    for (let i = 0; i < 8; i++) await learner.addExample(label, frame(k * 100 + i), SIDE, SIDE);
    steps += (await learner.train({ steps: Math.min(60, total - steps) })).steps;
    await sample("train", steps);
  }
  for (let i = 1; i <= predictions; i++) {
    await learner.recognise(frame(i % 50), 5, SIDE, SIDE);
    if (i % Math.max(1, Math.floor(predictions / 10)) === 0) await sample("recognise", i);
  }
}
