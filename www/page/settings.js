// The settings fields: what the visitor asks of the learner, and what a learner brought with it shown back.

import { $ } from "./dom.js";

/** The accept-rate field as a share, kept within the field's range (an emptied field means the default). */
function acceptRate() {
  return Math.min(1, Math.max(0.5, Number($("accept-rate").value) / 100 || 0.95));
}

/** The settings fields; one that is empty or out of its range is left out (the learner keeps its own). */
export function settings() {
  const field = (id) => ($(id).value !== "" && $(id).checkValidity() ? $(id).valueAsNumber : undefined);
  return { learningRate: field("learning-rate"), memory: field("memory"), acceptRate: acceptRate() };
}

/** Shows the settings the learner runs with (a saved learner brings its own). */
export function showSettings({ learningRate, memory, acceptRate }) {
  [$("learning-rate").value, $("memory").value, $("accept-rate").value] = [learningRate, memory, Math.round(acceptRate * 100)];
}

/** Training steps asked for, within the field's range. */
export function steps() {
  return Math.max(1, Math.min(2000, Number($("steps").value) || 60));
}
