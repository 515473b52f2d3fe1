// Training on the new examples, with its progress, and the bookkeeping after it: saving, measuring every class on
// its held-out frames, redrawing the figures.

import { $, setStatus } from "./dom.js";
import { drawAccuracy, drawLoss, heldOutSets, refreshMap } from "./plots.js";
import { steps } from "./settings.js";
import { apply, markSaving, persist, render, state } from "./state.js";
import { call } from "./worker-client.js";

/**
 * Trains on the new examples. The class is usable — and recognition resumes — as soon as the learner is trained;
 * measuring every class again, redrawing the map and saving follow off that path (`afterTraining`).
 */
export async function train() {
  if (state.busy) return;
  state.busy = true;
  render();
  state.losses = [];
  $("training-progress").value = 0;
  setStatus("training…");
  let trained;
  try {
    trained = await call("train", { steps: steps() });
    $("training-progress").value = 1;
  } catch (error) {
    setStatus(`training failed: ${error.message}`);
  }
  state.busy = false;
  if (!trained) return render();
  await apply(trained, { save: false }); // saved in the background, with the figures
  afterTraining();
}

/** The worker's `progress` event: the loss so far. */
export function showProgress({ report, steps }) {
  state.losses = report.losses;
  $("training-progress").value = report.steps / steps;
  drawLoss();
}

let bookkeeping = Promise.resolve();
/**
 * Saves, measures every class on its held-out frames, redraws the map and saves the figures, in the background,
 * one training's worth after another. The status element carries `data-saving` until all of it is done.
 */
function afterTraining() {
  const saved = markSaving();
  bookkeeping = bookkeeping
    .then(async () => {
      await persist(); // the learning first: it is what a closed tab would lose
      state.history.push(await call("evaluate", { sets: await heldOutSets() }));
      drawAccuracy();
      await refreshMap();
      await persist();
    })
    .catch((error) => setStatus(`could not measure or save: ${error.message}`))
    .finally(saved);
}
