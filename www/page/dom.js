// Small helpers over the page's elements: lookup by id, the status line, the backend badge, HTML escaping.

/** @param {string} id */
export const $ = (id) => document.getElementById(id);

export function setStatus(text) {
  $("status").textContent = text;
}

/** The backend badge; its tooltip says why this backend runs. */
export function setBackend(backend, reason, note) {
  $("backend").textContent = backend === "webgpu" ? "WebGPU" : "CPU";
  $("backend").dataset.backend = backend;
  $("backend").title = `Where training runs: ${reason}`;
  if (note) setStatus(note);
}

/** Text made safe to put into markup (names are the visitor's own). */
export function escape(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
