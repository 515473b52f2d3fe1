// The learner as a whole: export it to a file, import one, reset to a fresh one, and change its settings.

import { $, setStatus } from "./dom.js";
import { drawAccuracy, drawLoss, refreshMap } from "./plots.js";
import { settings } from "./settings.js";
import { forgetSaved } from "./storage.js";
import { apply, markSaving, state } from "./state.js";
import { call } from "./worker-client.js";

export async function exportLearner() {
  const bytes = await call("save");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  a.download = "learner.cvm";
  a.click();
  URL.revokeObjectURL(a.href);
}

/** An exported learner replaces this one; the thumbnails, held-out frames and figures of this one go with it. */
export async function importLearner(event) {
  const file = event.target.files[0];
  if (!file) return;
  try {
    const described = await call("load", { bytes: new Uint8Array(await file.arrayBuffer()) });
    await apply(described, { opened: {} });
  } catch (error) {
    setStatus(`import failed: ${error.message} (nothing was changed)`);
  }
  event.target.value = "";
}

export async function reset() {
  if (!confirm("Forget every class and example?")) return;
  await forgetSaved();
  const described = await call("reset", { backend: $("backend-choice").value, settings: settings() });
  state.losses = [];
  await apply(described, { opened: {}, save: false }); // nothing to save: the saved record is gone
  drawAccuracy();
  drawLoss();
  await refreshMap();
}

/** A settings field changed: the learner takes the new value at once, and keeps it in what is saved. */
export async function configure() {
  const saved = markSaving();
  try {
    await apply(await call("configure", { settings: settings() }), { status: null });
  } catch (error) {
    setStatus(`settings not changed: ${error.message}`);
  } finally {
    saved();
  }
}
