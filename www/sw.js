// Offline support: the app shell, the package's CPU-only build and the blobs are cached on first visit and served
// from the cache afterwards (refreshed in the background when the network is there). The whole build, with
// WebGPU, is fetched only by a page that uses WebGPU, and cached then.

const CACHE = "cvm-demo-v6";
const SHELL = [
  "./",
  "index.html",
  "style.css",
  "app.js",
  "page/dom.js",
  "page/settings.js",
  "page/storage.js",
  "page/worker-client.js",
  "page/state.js",
  "page/camera.js",
  "page/plots.js",
  "page/training.js",
  "page/recording.js",
  "page/live.js",
  "page/classes.js",
  "page/keep.js",
  "worker.js",
  "protocol.js",
  "manifest.webmanifest",
  "icon.svg",
  "generated/idb-keyval.js",
  "generated/pkg/index.js",
  "generated/pkg/cpu/cvm_wasm.js",
  "generated/pkg/cpu/cvm_wasm_bg.wasm",
  "generated/concepts.safetensors",
  "generated/trunk.safetensors",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      const refresh = fetch(event.request)
        .then((response) => {
          if (response.ok) cache.put(event.request, response.clone());
          return response;
        })
        .catch(() => undefined);
      return cached ?? (await refresh) ?? new Response("offline", { status: 503 });
    }),
  );
});
