// The demo page in Chromium on the CPU backend, with the camera denied: every control can be reached with the
// Tab key, has an accessible name and shows where the focus is; text contrast meets WCAG AA in the light and
// the dark colour scheme; once the service worker holds the page it loads and teaches with no network; and a save
// that fails part-way, or a browser killed mid-save, leaves the last good state whole.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { collectConsole, scratchDir, serve } from "./lib/browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, "..", "www");

const FLAGS = ["--no-sandbox", "--enable-unsafe-webgpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
// No camera: a fake device that is refused, so no permission prompt can hang the page.
const NO_CAMERA = ["--deny-permission-prompts", "--use-fake-device-for-media-stream"];

/** The page at `url` in a browser with `profile` (a fresh one unless given), and the page's console. */
async function open(url, { colorScheme = "light", camera = NO_CAMERA, profile = scratchDir("cvm-page-") } = {}) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [...FLAGS, ...camera],
    viewport: { width: 1280, height: 1000 },
    colorScheme,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const log = collectConsole(page);
  await page.goto(url);
  return { context, page, log, profile };
}

/** Waits until the status starts with "ready"; fails at once if the page says it could not start. */
async function waitReady(page, log, timeout = 600_000) {
  const status = await page
    .waitForFunction(() => {
      const text = document.querySelector('[data-testid="status"]').textContent;
      return /^(ready|could not start)/.test(text) && text;
    }, null, { timeout })
    .then((handle) => handle.jsonValue())
    .catch((e) => {
      throw new Error(`${e.message}\nconsole:\n${log.join("\n")}`);
    });
  assert.match(status, /^ready/, `status: ${status}\nconsole:\n${log.join("\n")}`);
}

/** Types a class name, submits it with Enter and waits for its card. */
async function addClass(page, log, name) {
  await page.fill('[data-testid="concept-input"]', name);
  await page.press('[data-testid="concept-input"]', "Enter");
  await page
    .waitForSelector(`[data-testid="class-card"][data-class="${name}"]`, { timeout: 60_000 })
    .catch(async (e) => {
      const message = await page.textContent("#add-message").catch(() => "");
      throw new Error(`${e.message}\nadd-message: ${message}\nconsole:\n${log.join("\n")}`);
    });
}

/** Uploads photos of a new class, then waits until training and everything after it are done and the status
 * matches `settled`. */
async function teach(s, name, files, settled) {
  await addClass(s.page, s.log, name);
  await s.page.setInputFiles(`[data-class="${name}"] input[type=file]`, files.map((f) => join(process.env.CVM_PHOTOS, f)));
  await s.page
    .waitForFunction(([name, settled]) => {
      const status = document.querySelector('[data-testid="status"]');
      const count = Number(document.querySelector(`[data-class="${name}"] [data-testid="sample-count"]`)?.textContent);
      return count >= 2 && !status.dataset.saving && new RegExp(settled).test(status.textContent);
    }, [name, settled], { timeout: 300_000 })
    .catch(async (e) => assert.fail(`${e.message}\nstatus: ${await s.page.textContent('[data-testid="status"]')}\n${s.log.join("\n")}`));
}

const errors = (log) => log.filter((l) => l.startsWith("[error]") || l.startsWith("[pageerror]"));

test("every control is reached with Tab, has a name and shows its focus", { timeout: 600_000 }, async () => {
  const server = await serve({ "/": www });
  const s = await open(`${server.url}/index.html?backend=cpu`);
  try {
    await waitReady(s.page, s.log);
    await addClass(s.page, s.log, "strawberry");
    // The new card's Record button takes the focus once the class is saved; wait, so it cannot move mid-walk.
    await s.page.waitForFunction(() => document.activeElement?.matches('[data-class="strawberry"] [data-testid="record"]'), null, { timeout: 60_000 });

    // Number every candidate control (those inside the closed settings too), then start Tab from the top.
    const candidates = await s.page.evaluate(() => {
      const all = document.querySelectorAll("button, input:not([type=hidden]), select, textarea, summary, a[href], [tabindex]");
      all.forEach((el, i) => (el.dataset.kb = String(i)));
      return all.length;
    });
    await s.page.click("h1");

    // Walk with Tab until the focus comes back round to a control it has been on.
    const stops = []; // { kb, tag, indicator } per control the focus lands on
    for (let i = 0; i < 3 * candidates + 10; i++) {
      await s.page.keyboard.press("Tab");
      const stop = await s.page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        el.dataset.kb ??= `extra-${document.querySelectorAll("[data-kb^=extra]").length}`; // focusable, not a control
        // A visible focus indicator: an outline or box shadow on the element, or, where the element itself
        // cannot be seen (a file input under its label), on its label.
        const seen = (e) => {
          const r = e.getBoundingClientRect();
          return r.width > 2 && r.height > 2 && e.checkVisibility({ opacityProperty: true, visibilityProperty: true });
        };
        const marked = (e) => {
          const cs = getComputedStyle(e);
          return (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== "none";
        };
        const shown = [el, el.closest("label")].filter(Boolean).find(seen);
        return { kb: el.dataset.kb, tag: el.outerHTML.slice(0, 120), indicator: !!shown && marked(shown) };
      });
      if (!stop) continue; // past the last control: the document itself
      if (stops.some((st) => st.kb === stop.kb)) break;
      stops.push(stop);
      // The settings open from the keyboard, and their fields join the Tab order.
      if (stop.tag.startsWith("<summary")) {
        await s.page.keyboard.press("Enter");
        assert.ok(await s.page.evaluate(() => document.querySelector("details.settings").open), "Enter on Settings opens it");
      }
    }

    // What must be reachable: every visible, enabled control, and file inputs whose label shows as a button.
    const required = await s.page.evaluate(() =>
      [...document.querySelectorAll("[data-kb]")]
        .filter((el) => {
          if (el.disabled || el.tabIndex < 0 && !el.matches("input[type=file]")) return false;
          const label = el.matches("input[type=file]") ? el.closest("label") : null;
          const box = label ?? el;
          const r = box.getBoundingClientRect();
          return r.width > 0 && r.height > 0 && box.checkVisibility({ visibilityProperty: true });
        })
        .map((el) => ({ kb: el.dataset.kb, tag: el.outerHTML.slice(0, 120) })),
    );
    const reached = new Set(stops.map((st) => st.kb));
    const missed = required.filter((r) => !reached.has(r.kb));
    assert.ok(required.length >= 15, `only ${required.length} controls found`);
    assert.deepEqual(missed, [], `controls the Tab key never reaches:\n${missed.map((m) => m.tag).join("\n")}`);
    const unmarked = stops.filter((st) => !st.indicator);
    assert.deepEqual(unmarked, [], `focused without a visible indicator:\n${unmarked.map((m) => m.tag).join("\n")}`);
    for (const card of ["record", "delete", "file"]) {
      const selector = { record: '[data-testid="record"]', delete: ".delete", file: "input[type=file]" }[card];
      const kb = await s.page.getAttribute(`[data-class="strawberry"] ${selector}`, "data-kb");
      assert.ok(reached.has(kb), `the class card's ${card} control is reached with Tab`);
    }

    // Accessible names, as Chromium's accessibility tree computes them.
    const cdp = await s.context.newCDPSession(s.page);
    await cdp.send("Accessibility.enable");
    const nameless = [];
    for (const { kb, tag } of required) {
      const { result } = await cdp.send("Runtime.evaluate", { expression: `document.querySelector('[data-kb="${kb}"]')` });
      const { nodes } = await cdp.send("Accessibility.getPartialAXTree", { objectId: result.objectId, fetchRelatives: false });
      const name = String(nodes.find((n) => !n.ignored)?.name?.value ?? "").trim();
      if (!name) nameless.push(tag);
    }
    assert.deepEqual(nameless, [], `controls without an accessible name:\n${nameless.join("\n")}`);

    // Record is press-and-hold: Space down starts, Space up stops. With the camera denied nothing records,
    // but the key must not raise an error, submit anything or move the focus.
    const record = s.page.locator('[data-class="strawberry"] [data-testid="record"]');
    await record.focus();
    const before = errors(s.log).length;
    await s.page.keyboard.down(" ");
    await s.page.waitForTimeout(400);
    await s.page.keyboard.up(" ");
    await s.page.waitForTimeout(400);
    assert.deepEqual(errors(s.log).slice(before), [], "errors after Space on Record");
    assert.equal(await record.getAttribute("aria-pressed"), "false");
    assert.ok(await record.evaluate((el) => el === document.activeElement), "Record keeps the focus");
    assert.ok(await s.page.locator("#add-message").isHidden(), "no error message");
    assert.match(await s.page.textContent('[data-testid="status"]'), /^ready/);
    assert.equal(await s.page.locator('[data-testid="class-card"]').count(), 1);
  } finally {
    await s.context.close();
    await server.close();
  }
});

test("a recording ends on release even if its card is redrawn mid-hold, and when the window loses focus", { timeout: 600_000 }, async () => {
  const server = await serve({ "/": www });
  // Chromium's own fake camera (a moving test pattern).
  const s = await open(`${server.url}/index.html?backend=cpu`, { camera: ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"] });
  try {
    await waitReady(s.page, s.log);
    await addClass(s.page, s.log, "strawberry");
    const count = async () => Number(await s.page.textContent('[data-class="strawberry"] [data-testid="sample-count"]'));
    const settled = async (what) => {
      await s.page
        // Ended, and the frames recorded before the end added (the status moves on to training).
        .waitForFunction(() => !document.querySelector('[data-testid="record"][aria-pressed="true"]') && !/recording|adding/.test(document.querySelector('[data-testid="status"]').textContent), null, { timeout: 30_000 })
        .catch(async (e) => assert.fail(`${what}: ${e.message}\nstatus: ${await s.page.textContent('[data-testid="status"]')}`));
      const before = await count();
      await s.page.waitForTimeout(1500);
      assert.equal(await count(), before, `${what}: frames are still being recorded`);
      return before;
    };
    // Hold Record; while it is held, another class is added (the cards are redrawn); then let go.
    await s.page.locator('[data-class="strawberry"] [data-testid="record"]').hover();
    await s.page.mouse.down();
    await s.page.waitForTimeout(1000);
    await addClass(s.page, s.log, "drum");
    await s.page.mouse.up();
    const first = await settled("released after a redraw");
    assert.ok(first >= 3, `only ${first} frames recorded`);
    await waitReady(s.page, s.log);
    // Hold again; the window loses focus (another window, a tab switch) instead of a release.
    await s.page.locator('[data-class="strawberry"] [data-testid="record"]').hover();
    await s.page.mouse.down();
    await s.page.waitForTimeout(1000);
    await s.page.evaluate(() => window.dispatchEvent(new Event("blur")));
    const second = await settled("window blurred");
    assert.ok(second > first, "the second hold recorded too");
    await s.page.mouse.up();
  } finally {
    await s.context.close();
    await server.close();
  }
});

for (const colorScheme of ["light", "dark"]) {
  test(`text contrast meets WCAG AA (${colorScheme} colour scheme)`, { timeout: 600_000 }, async () => {
    const server = await serve({ "/": www });
    const s = await open(`${server.url}/index.html?backend=cpu`, { colorScheme });
    try {
      await waitReady(s.page, s.log);
      assert.equal(await s.page.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches), colorScheme === "dark");
      // Show as much of the page as there is: a class card, the settings, and an error with suggestions.
      await addClass(s.page, s.log, "strawberry");
      await s.page.click("summary");
      await s.page.fill('[data-testid="concept-input"]', "strawberr");
      await s.page.press('[data-testid="concept-input"]', "Enter");
      await s.page.waitForSelector("#add-message:not([hidden])", { timeout: 60_000 });
      await s.page.fill('[data-testid="concept-input"]', "");

      const { checked, background, failures } = await s.page.evaluate(() => {
        const parse = (c) => {
          const m = c.match(/rgba?\(([^)]+)\)/);
          if (!m) return null;
          const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
          return { r, g, b, a };
        };
        const over = (top, under) => ({
          r: top.r * top.a + under.r * (1 - top.a),
          g: top.g * top.a + under.g * (1 - top.a),
          b: top.b * top.a + under.b * (1 - top.a),
          a: 1,
        });
        const luminance = ({ r, g, b }) => {
          const lin = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
          return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
        };
        const ratio = (x, y) => {
          const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
          return (hi + 0.05) / (lo + 0.05);
        };
        const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
        /** The colour behind `el`: its and its ancestors' backgrounds composited over the white canvas. */
        const backdrop = (el) => {
          const layers = [];
          for (let e = el; e; e = e.parentElement) {
            const cs = getComputedStyle(e);
            if (cs.backgroundImage !== "none") return { image: true };
            const c = parse(cs.backgroundColor);
            if (c && c.a > 0) layers.push(c);
            if (c && c.a >= 1) break;
          }
          return layers.reverse().reduce((under, top) => over(top, under), { r: 255, g: 255, b: 255, a: 1 });
        };
        const opacity = (el) => {
          let o = 1;
          for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
          return o;
        };
        const visible = (el) => {
          for (let e = el; e; e = e.parentElement) {
            const r = e.getBoundingClientRect();
            if (r.width <= 1 || r.height <= 1) return false; // visually hidden
          }
          return el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
        };
        const describe = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + [...el.classList].map((c) => `.${c}`).join("");

        // Text: elements with their own text nodes, form fields' values, and placeholders of empty fields.
        const items = [];
        for (const el of document.body.querySelectorAll("*")) {
          if (el.closest("select, datalist, script, style, template") && !el.matches("select")) continue;
          const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim();
          if (own) items.push({ el, text: own, color: getComputedStyle(el).color });
          if (el.matches("input:not([type=file]):not([type=checkbox]):not([type=radio]), textarea")) {
            if (el.value) items.push({ el, text: el.value, color: getComputedStyle(el).color });
            else if (el.placeholder) items.push({ el, text: `placeholder "${el.placeholder}"`, color: getComputedStyle(el, "::placeholder").color });
          }
          if (el.matches("select")) items.push({ el, text: el.selectedOptions[0]?.textContent ?? "", color: getComputedStyle(el).color });
        }
        const failures = [];
        let checked = 0;
        for (const { el, text, color } of items) {
          if (!visible(el) || el.disabled) continue; // disabled controls are exempt (WCAG 1.4.3)
          const back = backdrop(el);
          if (back.image) continue;
          const fg = parse(color);
          const shown = over({ ...fg, a: fg.a * opacity(el) }, back);
          const cs = getComputedStyle(el);
          const size = parseFloat(cs.fontSize);
          const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
          const need = large ? 3 : 4.5;
          const r = ratio(shown, back);
          checked++;
          if (r < need) failures.push({ element: describe(el), text: text.slice(0, 40), color: hex(shown), background: hex(back), ratio: Number(r.toFixed(2)), need });
        }
        failures.sort((a, b) => a.ratio / a.need - b.ratio / b.need);
        return { checked, background: hex(backdrop(document.body)), failures };
      });
      assert.ok(checked >= 30, `only ${checked} text elements checked`);
      // The scheme reached the stylesheet: the page's background is light or dark as asked.
      const dark = parseInt(background.slice(1, 3), 16) < 128;
      assert.equal(dark, colorScheme === "dark", `page background ${background}`);
      assert.deepEqual(failures, [], `text below WCAG AA contrast (${colorScheme}), worst first:\n${failures.map((f) => JSON.stringify(f)).join("\n")}`);
    } finally {
      await s.context.close();
      await server.close();
    }
  });
}

test("once the service worker holds it, the page loads and teaches offline", { timeout: 600_000 }, async () => {
  const server = await serve({ "/": www });
  let serving = true;
  const s = await open(`${server.url}/index.html?backend=cpu`);
  try {
    await waitReady(s.page, s.log);
    // The worker caches the page on install and claims it on activation; reload once if it has not yet.
    await s.page.evaluate(() => navigator.serviceWorker.ready);
    const controlled = () => s.page.evaluate(() => navigator.serviceWorker.controller !== null);
    if (!(await controlled())) {
      await s.page.reload();
      await waitReady(s.page, s.log);
    }
    assert.ok(await controlled(), "the service worker controls the page");

    // Off the network, and the server gone too, so nothing but the service worker's cache can answer.
    await s.context.setOffline(true);
    await server.close();
    serving = false;
    const responses = [];
    s.page.on("response", (r) => responses.push(r));
    await s.page.reload();
    await waitReady(s.page, s.log);
    const document = responses.find((r) => r.request().isNavigationRequest());
    assert.ok(document?.ok(), "the page itself came back");
    assert.ok(document.fromServiceWorker(), "the page came from the service worker");
    const failed = responses.filter((r) => !r.ok()).map((r) => `${r.status()} ${r.url()}`);
    assert.deepEqual(failed, [], "requests that failed offline");

    await addClass(s.page, s.log, "drum");
    assert.equal(await s.page.textContent('[data-class="drum"] [data-testid="sample-count"]'), "0");
    assert.match(await s.page.textContent('[data-testid="status"]'), /^ready/);
  } finally {
    await s.context.close();
    if (serving) await server.close();
  }
});

test("the saved state: the first release's records migrate into one, and a save that fails leaves the last good one whole", { timeout: 600_000 }, async () => {
  const photos = process.env.CVM_PHOTOS;
  assert.ok(photos, "CVM_PHOTOS is unset: run through `cargo xtask test`");
  const server = await serve({ "/": www });
  const s = await open(`${server.url}/index.html?backend=cpu`);
  try {
    await waitReady(s.page, s.log);
    await teach(s, "strawberry", ["imagenet_04_949.jpg", "imagenet_10_541.jpg"], "^ready$");
    // A settings field takes effect at once and comes back with the saved learner (the fields' defaults do not
    // overwrite it on the next visit).
    await s.page.click("details.settings > summary");
    await s.page.locator("#memory").fill("300");
    await s.page.locator("#memory").dispatchEvent("change");
    await s.page.waitForFunction(() => !document.querySelector('[data-testid="status"]').dataset.saving);
    // What the first release saved (four records side by side) is moved into the one versioned record.
    const keys = () => s.page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open("keyval-store");
      open.onsuccess = () => {
        const request = open.result.transaction("keyval").objectStore("keyval").getAllKeys();
        request.onsuccess = () => resolve(request.result.sort());
      };
    }));
    assert.deepEqual(await keys(), ["saved"]);
    // Rewrites the saved record in IndexedDB: "split" into the first release's four records, or "damage" its snapshot.
    const rewriteSaved = (how) => s.page.evaluate((how) => new Promise((resolve, reject) => {
      const open = indexedDB.open("keyval-store");
      open.onsuccess = () => {
        const transaction = open.result.transaction("keyval", "readwrite");
        const store = transaction.objectStore("keyval");
        const request = store.get("saved");
        request.onsuccess = () => {
          const saved = request.result;
          if (how === "damage") return store.put({ ...saved, snapshot: new Uint8Array([1, 2, 3]) }, "saved");
          const { snapshot, thumbs, history, heldOut } = saved;
          Object.entries({ snapshot, thumbs, history, heldOut }).forEach(([key, value]) => store.put(value, key));
          store.delete("saved");
        };
        transaction.oncomplete = resolve;
        transaction.onerror = reject;
      };
    }), how);
    await rewriteSaved("split");
    assert.deepEqual(await keys(), ["heldOut", "history", "snapshot", "thumbs"]);
    await s.page.reload();
    await waitReady(s.page, s.log);
    assert.deepEqual(await s.page.locator('[data-testid="class-card"]').evaluateAll((cards) => cards.map((c) => c.dataset.class)), ["strawberry"], "the first release's state, migrated");
    assert.equal(await s.page.inputValue("#memory"), "300", "the memory setting came back with the learner");
    assert.deepEqual(await keys(), ["saved"]);
    // From now on every save fails the way a full disk does: its transaction aborts.
    await s.page.evaluate(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (value, key) {
        const request = put.call(this, value, key);
        if (key === "saved") this.transaction.abort();
        return request;
      };
    });
    // The failed save is reported (and the work is still in the page).
    await teach(s, "drum", ["imagenet_10_541.jpg", "imagenet_15_99.jpg"], "could not save");
    // The next visit gets the last good state: one class, with its thumbnails.
    await s.page.reload();
    await waitReady(s.page, s.log);
    const cards = await s.page.locator('[data-testid="class-card"]').evaluateAll((cards) => cards.map((c) => c.dataset.class));
    assert.deepEqual(cards, ["strawberry"], "the state after the failed save");
    assert.equal(await s.page.locator('[data-class="strawberry"] [data-testid="remove-sample"]').count(), 2, "its thumbnails came back with it");
    // A saved learner the page cannot restore (here: damaged; after a release, made with other blobs) is set
    // aside, not overwritten by the fresh start.
    await rewriteSaved("damage");
    await s.page.reload();
    await s.page.waitForFunction(() => /could not be restored .* kept aside, starting fresh/.test(document.querySelector('[data-testid="status"]').textContent), null, { timeout: 300_000 });
    assert.equal(await s.page.locator('[data-testid="class-card"]').count(), 0, "a fresh start");
    assert.deepEqual(await keys(), ["saved", "saved-unrestored"]);
  } finally {
    await s.context.close();
    await server.close();
  }
});

test("a browser killed while the page saves comes back with a whole state", { timeout: 600_000 }, async () => {
  assert.ok(process.env.CVM_PHOTOS, "CVM_PHOTOS is unset: run through `cargo xtask test`");
  const server = await serve({ "/": www });
  const url = `${server.url}/index.html?backend=cpu`;
  let s = await open(url);
  try {
    await waitReady(s.page, s.log);
    await teach(s, "strawberry", ["imagenet_04_949.jpg", "imagenet_10_541.jpg"], "^ready$");
    // The moment a save of the second class's examples hands its record to IndexedDB, every process of this
    // browser is killed (SIGKILL: no shutdown, no flush), with the save's transaction still open: the page spins
    // right after the write is requested, so the transaction cannot commit before the kill lands.
    let killed;
    const kill = new Promise((resolve) => (killed = resolve));
    await s.page.exposeFunction("saveStarted", () => {
      execFileSync("pkill", ["-KILL", "-f", "--", `--user-data-dir=${s.profile}`]);
      killed();
    });
    await s.page.evaluate(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (value, key) {
        const request = put.call(this, value, key);
        if (key === "saved" && value.thumbs.some(([label, thumbs]) => label === "drum" && thumbs.length === 2)) {
          window.saveStarted();
          for (const until = Date.now() + 20_000; Date.now() < until; );
        }
        return request;
      };
    });
    await addClass(s.page, s.log, "drum");
    await s.page.setInputFiles('[data-class="drum"] input[type=file]', ["imagenet_10_541.jpg", "imagenet_15_99.jpg"].map((f) => join(process.env.CVM_PHOTOS, f)));
    await kill;
    await s.context.close().catch(() => {});
    // The same profile again: the state is one that a save wrote whole — the learner's examples and the page's
    // thumbnails agree for every class — never a mix of two saves.
    s = await open(url, { profile: s.profile });
    await waitReady(s.page, s.log);
    const cards = await s.page.locator('[data-testid="class-card"]').evaluateAll((cards) => cards.map((c) => c.dataset.class));
    assert.deepEqual(cards.slice(0, 1), ["strawberry"], `classes after the kill: ${cards}`);
    const counts = [];
    for (const name of cards) {
      const examples = Number(await s.page.textContent(`[data-class="${name}"] [data-testid="sample-count"]`));
      assert.equal(await s.page.locator(`[data-class="${name}"] [data-testid="remove-sample"]`).count(), examples, `${name}: thumbnails and examples`);
      counts.push(`${name} (${examples} examples)`);
    }
    assert.equal(counts[0], "strawberry (2 examples)");
    assert.ok(counts.length === 1 || counts[1] !== "drum (2 examples)", "the save that was killed before it committed cannot have landed");
    assert.deepEqual(errors(s.log), []);
    console.log(`killed mid-save: the next visit has ${counts.join(", ")}`);
  } finally {
    await s.context.close();
    await server.close();
  }
});
