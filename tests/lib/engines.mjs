// Firefox ESR and WebKit, Debian's own builds, each behind the same small driver: Firefox through WebDriver BiDi
// (puppeteer-core), WebKit through WebKitGTK's WebDriver and its MiniBrowser (selenium-webdriver) on an Xvfb
// display. Neither downloads a browser; both have the camera blocked or absent.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import puppeteer from "puppeteer-core";
import { Builder, By } from "selenium-webdriver";

/**
 * A browser with one page: `{ name, log, goto(url), reload(), evaluate(fn, arg), type(selector, text),
 * click(selector), upload(selector, files), close() }`. `evaluate` runs a self-contained `fn(arg)` in the page and
 * resolves with its (awaited, JSON) result; `upload` gives a file input local files.
 */

/** Debian's Firefox ESR, headless, with a profile of its own; the camera permission is refused. */
export async function firefox(profile) {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX ?? "/usr/bin/firefox-esr",
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: { "permissions.default.camera": 2 },
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const log = [];
  page.on("console", (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => log.push(`[pageerror] ${e.message}`));
  return {
    name: await browser.version(),
    log,
    goto: (url) => page.goto(url),
    reload: () => page.reload(),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    type: (selector, text) => page.type(selector, text),
    click: (selector) => page.click(selector),
    upload: async (selector, files) => (await page.$(selector)).uploadFile(...files),
    close: () => browser.close(),
  };
}

const MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/** WebKitGTK's MiniBrowser in automation mode on a display of its own; this machine has no camera for it. */
export async function webkit() {
  const display = await xvfb();
  const port = await freePort();
  const server = spawn(process.env.WEBKIT_WEBDRIVER ?? "WebKitWebDriver", [`--port=${port}`], {
    stdio: "ignore",
    env: { ...process.env, DISPLAY: display.name },
  });
  const stopServer = () => server.kill();
  process.on("exit", stopServer);
  try {
    await until(() => fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false), 30_000, "WebKitWebDriver to listen");
    const driver = await new Builder()
      .usingServer(`http://127.0.0.1:${port}`)
      .withCapabilities({ browserName: "MiniBrowser", "webkitgtk:browserOptions": { binary: process.env.MINIBROWSER ?? MINIBROWSER, args: ["--automation"] } })
      .build();
    const capabilities = await driver.getCapabilities();
    return {
      name: `WebKitGTK ${capabilities.get("browserVersion")}`,
      log: [], // classic WebDriver has no console to listen to
      goto: (url) => driver.get(url),
      reload: () => driver.navigate().refresh(),
      evaluate: (fn, arg) => driver.executeScript(fn, arg),
      type: (selector, text) => driver.findElement(By.css(selector)).sendKeys(text),
      click: (selector) => driver.findElement(By.css(selector)).click(),
      upload: (selector, files) => driver.findElement(By.css(selector)).sendKeys(files.join("\n")),
      close: async () => {
        await driver.quit().catch(() => {});
        stopServer();
        display.close();
      },
    };
  } catch (error) {
    stopServer();
    display.close();
    throw error;
  }
}

/** An Xvfb display, numbered by Xvfb itself (so parallel runs cannot collide): { name, close }. */
async function xvfb() {
  const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "ignore", "pipe"],
  });
  const close = () => child.kill();
  process.on("exit", close);
  const number = await new Promise((resolve, reject) => {
    child.stdio[3].once("data", (d) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`Xvfb exited with ${code} before it had a display`)));
    child.once("error", reject);
  });
  return { name: `:${number}`, close };
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `check` (which may be async) every 200 ms until it is truthy, and resolves with its value. */
export async function until(check, timeout, what) {
  for (const end = Date.now() + timeout; ; ) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
