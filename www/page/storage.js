// What the page keeps between visits: one IndexedDB record, written whole (a failed or interrupted write leaves the
// last good one, never a new snapshot beside old thumbnails and held-out frames) and versioned like the learner's
// snapshot inside it: `{ version, snapshot, thumbs, history, heldOut }`.

import { del, delMany, get, getMany, set } from "../generated/idb-keyval.js";

const SAVED = "saved";
const SAVED_VERSION = 1;
// The first release kept four records beside each other.
const FIRST_RELEASE_KEYS = ["snapshot", "thumbs", "history", "heldOut"];

/** The saved record, or null: this version's, or the first release's four records moved into one. */
export async function loadSaved() {
  const saved = await get(SAVED);
  if (saved !== undefined) {
    if (saved?.version === SAVED_VERSION) return saved;
    // A record this page cannot read (a newer page wrote it) is set aside, not overwritten.
    await set(`${SAVED}-version-${saved?.version}`, saved);
    await del(SAVED);
    throw new Error(`it has version ${saved?.version}, which this page cannot read; it was kept under another name`);
  }
  const [snapshot, thumbs, history, heldOut] = await getMany(FIRST_RELEASE_KEYS);
  if (snapshot === undefined) return null;
  const migrated = { version: SAVED_VERSION, snapshot, thumbs: thumbs ?? [], history: history ?? [], heldOut: heldOut ?? [] };
  await set(SAVED, migrated);
  await delMany(FIRST_RELEASE_KEYS);
  return migrated;
}

/**
 * Writes the record in one transaction.
 * @param {{ snapshot: Uint8Array, thumbs: Map<string, { id: number, url: string }[]>,
 *   history: Record<string, number>[], heldOut: Map<string, { frame: ImageBitmap }[]> }} kept
 */
export async function writeSaved({ snapshot, thumbs, history, heldOut }) {
  const frames = await Promise.all([...heldOut].map(async ([label, entries]) => [label, await Promise.all(entries.map((e) => jpeg(e.frame)))]));
  await set(SAVED, { version: SAVED_VERSION, snapshot, thumbs: [...thumbs], history, heldOut: frames });
}

/** Keeps a saved record the learner could not be restored from under another name, so a fresh start cannot
 * overwrite it. */
export const setAsideUnrestored = (saved) => set(`${SAVED}-unrestored`, saved);

/** Forgets the saved record (a reset). */
export const forgetSaved = () => del(SAVED);

const jpegs = new WeakMap(); // held-out frame → its saved JPEG, made once
const jpegCanvas = new OffscreenCanvas(224, 224);
async function jpeg(bitmap) {
  if (!jpegs.has(bitmap)) {
    [jpegCanvas.width, jpegCanvas.height] = [bitmap.width, bitmap.height];
    jpegCanvas.getContext("2d").drawImage(bitmap, 0, 0);
    jpegs.set(bitmap, await jpegCanvas.convertToBlob({ type: "image/jpeg", quality: 0.9 }));
  }
  return jpegs.get(bitmap);
}

/**
 * The saved held-out frames of the classes in `labels`, decoded (a frame that no longer decodes is dropped); each
 * keeps its JPEG, so saving it again does not encode it again.
 * @returns {Promise<Map<string, { frame: ImageBitmap, sample: null }[]>>}
 */
export async function restoreHeldOut(saved, labels) {
  const restored = new Map();
  for (const [label, blobs] of saved) {
    if (!labels.includes(label)) continue;
    const frames = await Promise.all(blobs.map((b) => createImageBitmap(b).catch(() => null)));
    frames.forEach((f, i) => f && jpegs.set(f, blobs[i]));
    restored.set(label, frames.filter(Boolean).map((frame) => ({ frame, sample: null })));
  }
  return restored;
}
