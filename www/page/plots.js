// The figures: loss during training, accuracy per class on its held-out frames after each training, and the
// concept map; and the held-out sets they are measured on.

import { $ } from "./dom.js";
import { MAX_HELD_OUT, state } from "./state.js";
import { call } from "./worker-client.js";

/** The held-out frames as `[{ label, samples }]` (the latest `per` of each class), encoding any not yet encoded. */
export async function heldOutSets(per = MAX_HELD_OUT) {
  const sets = [];
  for (const [label, entries] of state.heldOut) {
    const latest = entries.slice(-per);
    const missing = latest.filter((e) => !e.sample);
    if (missing.length) {
      const samples = await call("encode", { frames: missing.map((e) => e.frame) });
      missing.forEach((e, i) => (e.sample = samples[i]));
    }
    sets.push({ label, samples: latest.map((e) => e.sample) });
  }
  return sets;
}

/** The concept map: anchors, their neighbours, and the last few held-out frames of each class. */
export async function refreshMap() {
  state.map = state.classes.length ? await call("conceptMap", { sets: await heldOutSets(3) }).catch(() => null) : null;
  drawMap();
}

function plotContext(id) {
  const canvas = $(id);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui";
  ctx.fillStyle = getComputedStyle(document.body).color;
  ctx.strokeStyle = ctx.fillStyle;
  return { canvas, ctx };
}

export function drawLoss() {
  const { canvas, ctx } = plotContext("loss-plot");
  const l = state.losses;
  if (!l.length) return;
  const max = Math.max(...l, 1e-6);
  ctx.beginPath();
  l.forEach((v, i) => {
    const x = 30 + (i / Math.max(1, l.length - 1)) * (canvas.width - 40);
    const y = canvas.height - 20 - (v / max) * (canvas.height - 35);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
  ctx.fillText(max.toFixed(2), 2, 14);
  ctx.fillText(`step ${l.length}`, canvas.width - 60, canvas.height - 4);
}

export function drawAccuracy() {
  const { canvas, ctx } = plotContext("accuracy-plot");
  const labels = state.classes.map((c) => c.label);
  const rows = state.history;
  const latest = labels.filter((l) => typeof rows.at(-1)?.[l] === "number").map((l) => `${l} ${Math.round(rows.at(-1)[l] * 100)}%`);
  canvas.setAttribute("aria-label", `Accuracy per class after each new class${latest.length ? `; after the last training: ${latest.join(", ")}` : ""}`);
  if (!rows.length || !labels.length) return;
  const cellW = (canvas.width - 90) / rows.length;
  const cellH = Math.min(22, (canvas.height - 20) / labels.length);
  labels.forEach((label, j) => {
    ctx.fillStyle = getComputedStyle(document.body).color;
    ctx.fillText(label.slice(0, 12), 2, 14 + j * cellH + cellH / 2);
    rows.forEach((row, i) => {
      const a = row[label];
      if (a === undefined || a === null) return;
      ctx.fillStyle = `hsl(${Math.round(a * 120)}, 65%, 45%)`;
      ctx.fillRect(90 + i * cellW, 4 + j * cellH, cellW - 2, cellH - 2);
      ctx.fillStyle = "#fff";
      ctx.fillText(`${Math.round(a * 100)}`, 92 + i * cellW, 4 + j * cellH + cellH / 2 + 4);
    });
  });
}

function drawMap() {
  const { canvas, ctx } = plotContext("map-plot");
  const points = state.map;
  if (!points?.length) return;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const px = (x) => 20 + ((x - x0) / (x1 - x0 || 1)) * (canvas.width - 40);
  const py = (y) => canvas.height - 20 - ((y - y0) / (y1 - y0 || 1)) * (canvas.height - 40);
  const colour = (label) => `hsl(${[...label].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 360, 7)}, 70%, 45%)`;
  for (const p of points) {
    ctx.beginPath();
    if (p.kind === "anchor") {
      ctx.fillStyle = colour(p.label);
      ctx.arc(px(p.x), py(p.y), 6, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillText(p.label, px(p.x) + 8, py(p.y) + 4);
    } else if (p.kind === "sample") {
      ctx.strokeStyle = colour(p.label);
      ctx.arc(px(p.x), py(p.y), 4, 0, 2 * Math.PI);
      ctx.stroke();
    } else {
      ctx.fillStyle = getComputedStyle(document.body).color;
      ctx.fillRect(px(p.x) - 1, py(p.y) - 1, 2, 2);
      ctx.fillText(p.label, px(p.x) + 4, py(p.y) - 2);
    }
  }
}
