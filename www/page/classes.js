// The class cards: adding a class (with suggestions for an unknown name), its card with Record, Upload, Delete
// and removable thumbnails, and taking a class or one example back out.

import { $, escape, setStatus } from "./dom.js";
import { frame, shown } from "./camera.js";
import { refreshMap } from "./plots.js";
import { addFiles, wireRecord } from "./recording.js";
import { apply, state } from "./state.js";
import { call } from "./worker-client.js";

/** Draws a card per class. app.js registers it as a renderer of state.js, through which every module redraws. */
export function renderClasses() {
  const list = $("classes");
  list.replaceChildren(
    ...state.classes.map((c) => {
      const li = document.createElement("li");
      li.className = "card";
      li.dataset.testid = "class-card";
      li.dataset.class = c.label;
      li.setAttribute("data-testid", "class-card");
      const thumbs = state.thumbs.get(c.label) ?? [];
      li.innerHTML = `
        <h3><span>${escape(c.label)}</span><span><span data-testid="sample-count">${c.examples}</span> examples</span></h3>
        <div class="actions">
          <button type="button" class="record" data-testid="record" aria-pressed="false" title="Hold to record (or hold Space)">Hold to record</button>
          <label class="button secondary">Upload <input type="file" accept="image/*" multiple></label>
          <button type="button" class="secondary delete" aria-label="Delete class ${escape(c.label)}">Delete</button>
        </div>
        <div class="thumbs" aria-label="Recorded examples of ${escape(c.label)}"></div>`;
      const strip = li.querySelector(".thumbs");
      thumbs.forEach(({ id, url }, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.testid = "remove-sample";
        b.title = "Remove this example";
        b.setAttribute("aria-label", `Remove example ${i + 1} of ${c.label}`);
        b.innerHTML = `<img alt="" src="${url}">`;
        b.onclick = () => removeExample(id);
        strip.append(b);
      });
      wireRecord(li.querySelector(".record"), c.label);
      li.querySelector("input[type=file]").onchange = (e) => addFiles(c.label, e.target.files);
      li.querySelector(".delete").onclick = () => removeClass(c.label);
      li.ondragover = (e) => {
        e.preventDefault();
        li.classList.add("drop");
      };
      li.ondragleave = () => li.classList.remove("drop");
      li.ondrop = (e) => {
        e.preventDefault();
        li.classList.remove("drop");
        addFiles(c.label, e.dataTransfer.files);
      };
      return li;
    }),
  );
  $("train").disabled = state.busy || state.classes.length === 0;
}

export async function addClass(name) {
  const message = $("add-message");
  message.hidden = true;
  delete message.dataset.kind;
  try {
    const described = await call("addClass", { name });
    $("concept").value = "";
    await apply(described);
    const label = described.classes.at(-1).label;
    document.querySelector(`[data-class="${CSS.escape(label)}"] .record`)?.focus();
    await sayIfKnownAlready(label);
  } catch (error) {
    message.replaceChildren(document.createTextNode(error.message + " "));
    for (const s of error.suggestions ?? []) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = s;
      b.onclick = () => addClass(s);
      message.append(b);
    }
    message.hidden = false;
  }
}

/** A class the grounded prior already recognises in the camera's frame (or the photo tried) is usable before its
 * first example. */
async function sayIfKnownAlready(label) {
  const source = shown();
  if (!source) return;
  const current = frame(source);
  const { prediction } = await call("predict", { frame: current, rank: 0 }, [current]).catch(() => ({}));
  if (prediction?.label !== label || prediction.unknown) return;
  const message = $("add-message");
  message.dataset.kind = "known";
  message.textContent = `The page already knows “${label}” — record a few frames to make it yours.`;
  message.hidden = false;
}

async function removeClass(label) {
  if (!confirm(`Delete “${label}” and its examples?`)) return;
  await apply(await call("removeClass", { label }), { status: null });
  await refreshMap();
}

/** Takes one example back out of the learner (and its thumbnail off the card). */
async function removeExample(id) {
  try {
    await apply(await call("removeExample", { example: id }), { status: "example removed: it is no longer trained on; the model lets go of it as it trains on" });
  } catch (error) {
    setStatus(`could not remove the example: ${error.message}`);
  }
}
