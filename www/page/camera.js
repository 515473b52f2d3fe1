// What the page looks at: the camera, or a photo tried in its place; frames grabbed from either (or from an
// upload) as ImageBitmaps for the worker, and thumbnails of them.

import { $, setStatus } from "./dom.js";
import { state } from "./state.js";

const video = $("video");
// Frames go to the worker whole: the learner crops and scales them itself, as it does natively.
const grab = new OffscreenCanvas(1, 1);
const grabContext = grab.getContext("2d", { willReadFrequently: false });

export async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return cameraProblem("This browser has no camera access. You can still upload images.");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream;
    await video.play();
    state.cameraOn = true;
    $("camera-message").hidden = true;
  } catch (error) {
    // No device reads NotFoundError in most engines, OverconstrainedError in WebKit.
    const none = "No camera found. You can still upload images and try photos.";
    const problem = {
      NotAllowedError: "Camera access was denied. Allow it in the address bar and reload — or upload images and try photos instead.",
      NotFoundError: none,
      OverconstrainedError: none,
    }[error?.name];
    cameraProblem(problem ?? `No camera available (${error?.message ?? error}). You can still upload images and try photos.`);
  }
}
function cameraProblem(text) {
  state.cameraOn = false;
  $("camera-message").textContent = text;
  $("camera-message").hidden = false;
  document.body.dataset.camera = "off";
}

/** What the page shows and recognises: the photo tried in place of the camera, else the camera once it has a
 * frame, else null. */
export function shown() {
  return state.photo ?? (state.cameraOn && video.readyState >= 2 ? video : null);
}

/** The current camera frame (or an uploaded image), whole, as a transferable ImageBitmap. */
export function frame(source = video) {
  const w = source.videoWidth ?? source.width;
  const h = source.videoHeight ?? source.height;
  if (grab.width !== w || grab.height !== h) [grab.width, grab.height] = [w, h];
  grabContext.drawImage(source, 0, 0);
  return grab.transferToImageBitmap();
}

/** A small square of the frame's centre, as the learner sees it. */
export function thumbnail(bitmap) {
  const c = document.createElement("canvas");
  c.width = c.height = 48;
  const side = Math.min(bitmap.width, bitmap.height);
  c.getContext("2d").drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 48, 48);
  return c.toDataURL("image/jpeg", 0.7);
}

/** An uploaded image as a frame. A photo far larger than a camera frame is first brought down to 1,024 pixels
 * on its longer side, so one upload cannot grow the learner's memory by tens of megabytes. */
export async function upload(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1024 / Math.max(bitmap.width, bitmap.height));
  if (scale === 1) return bitmap;
  const [resizeWidth, resizeHeight] = [Math.round(bitmap.width * scale) || 1, Math.round(bitmap.height * scale) || 1];
  const smaller = await createImageBitmap(bitmap, { resizeWidth, resizeHeight, resizeQuality: "high" }); // no second decode
  bitmap.close();
  return smaller;
}

/** "Try a photo": the chosen file is recognised in place of the camera. */
export async function tryPhoto(event) {
  const file = event.target.files[0];
  event.target.value = ""; // the same photo can be chosen again
  if (!file) return;
  let bitmap;
  try {
    bitmap = await upload(file);
  } catch {
    return setStatus(`${file.name} is not an image this browser can read`);
  }
  showPhoto(bitmap, URL.createObjectURL(file));
}

/** Recognises `bitmap` (shown from `url`) instead of the camera, or the camera again when it is null. */
export function showPhoto(bitmap, url) {
  const img = $("photo");
  state.photo?.close();
  if (img.src) URL.revokeObjectURL(img.src);
  [state.photo, state.photoDue] = [bitmap, Boolean(bitmap)];
  bitmap ? (img.src = url) : img.removeAttribute("src");
  img.hidden = $("back-to-camera").hidden = !bitmap;
}
