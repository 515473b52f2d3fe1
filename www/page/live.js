// Recognition as it happens: the loop that sends what the page shows to the learner, and the prediction, the
// confidence bars, what the frame looks like and the spoken announcement.

import { $, escape, setStatus } from "./dom.js";
import { frame, shown } from "./camera.js";
import { state } from "./state.js";
import { call } from "./worker-client.js";

let lastAnnounce = 0;
let frames = 0;
let fpsSince = performance.now();

/** Runs for as long as the page is open; started once the learner is ready. */
export async function recognise() {
  // From the first frame: before any class, the page still says what the frame looks like (the grounded prior).
  // Frames follow one another as fast as the worker answers; while there is nothing to recognise, the loop polls.
  // A photo in place of the camera is recognised once, and again whenever the learner changes.
  const source = shown();
  const due = source !== null && (source !== state.photo || state.photoDue);
  const live = state.ready && !state.busy && !state.recording && due;
  if (live) {
    try {
      state.photoDue = false;
      const current = frame(source);
      const { prediction, looksLike } = await call("predict", { frame: current, rank: 5 }, [current]);
      showPrediction(prediction, looksLike);
      frames++;
    } catch (error) {
      if (!state.busy) setStatus(`recognition paused: ${error.message}`);
    }
  }
  const now = performance.now();
  if (now - fpsSince > 1000) {
    $("fps").textContent = `${((frames * 1000) / (now - fpsSince)).toFixed(1)} fps`;
    frames = 0;
    fpsSince = now;
  }
  setTimeout(recognise, live ? 0 : 30);
}

let predictionsShown = 0;
function showPrediction(p, looksLike) {
  $("looks-like").textContent = looksLike.map((m) => m.label).join(", ") || "—";
  if (!p) return; // no class yet
  const box = $("prediction");
  box.dataset.label = p.label;
  box.dataset.score = p.score.toFixed(3);
  box.dataset.unknown = String(p.unknown);
  box.dataset.shown = String(++predictionsShown); // lets a test tell a new prediction from the last one
  const guess = looksLike[0] ? ` — looks like ${looksLike[0].label}` : "";
  $("prediction-label").textContent = p.unknown ? `not one of your classes${guess}` : `${p.label} (${Math.round(p.score * 100)}%)`;
  $("bars").replaceChildren(
    ...p.scores.map((s) => {
      const li = document.createElement("li");
      li.innerHTML = `<span>${escape(s.label)}</span><meter min="0" max="1" value="${s.score}"></meter><span>${Math.round(s.score * 100)}%</span>`;
      return li;
    }),
  );
  const now = performance.now();
  if (now - lastAnnounce > 3000) {
    lastAnnounce = now;
    const text = p.unknown ? `Not one of your classes${guess}` : `This is ${p.label}`;
    if ($("announce").textContent !== text) $("announce").textContent = text;
  }
}
