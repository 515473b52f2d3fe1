// The page's side of the worker (../worker.js owns the learner): the only code that posts to it. Requests and
// events are those of ../protocol.js; a request it does not name is refused here, before it is sent.

import { EVENTS, fromWire, isRequest } from "../protocol.js";

const worker = new Worker(new URL("../worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map(); // id → { resolve, reject }
const listeners = new Map(); // event → handler

worker.onmessage = ({ data }) => {
  if ("event" in data) return listeners.get(data.event)?.(data);
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  data.ok ? resolve(data.result) : reject(fromWire(data.error));
};
// A worker that failed to load (or checked its handlers against the protocol and found them wrong) answers
// nothing: fail what waits on it rather than leave the page waiting for ever.
worker.onerror = (event) => {
  const error = new Error(event.message || "the worker could not start");
  for (const { reject } of pending.values()) reject(error);
  pending.clear();
};

/**
 * Sends a request; resolves with its result, or rejects with its error (`message`, `name`, `suggestions`).
 * `transfer` moves those objects to the worker instead of copying them.
 * @template {keyof import("../protocol.js").Requests} Op
 * @param {Op} op
 * @param {import("../protocol.js").Requests[Op]["args"]} [args]
 * @param {Transferable[]} [transfer]
 * @returns {Promise<import("../protocol.js").Requests[Op]["result"]>}
 */
export function call(op, args = {}, transfer = []) {
  if (!isRequest(op)) throw new Error(`“${op}” is not a request of the worker protocol`);
  const id = nextId++;
  worker.postMessage({ id, op, ...args }, transfer);
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

/**
 * Handles an event of the worker's (one handler each).
 * @template {keyof import("../protocol.js").Events} Name
 * @param {Name} event
 * @param {(data: import("../protocol.js").Events[Name]) => void} handler
 */
export function on(event, handler) {
  if (!EVENTS.includes(event)) throw new Error(`“${event}” is not an event of the worker protocol`);
  listeners.set(event, handler);
}
