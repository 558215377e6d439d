// DigitBridge page: wires the inputs (pad, file, microphone, typed digit) to the search API, at most one
// request in flight (a newer query waits and replaces any older waiting one).
import { AddToIndex } from "/static/additem.js";
import { api, ApiError, releaseMedia } from "/static/api.js";
import { KeyPrompt } from "/static/keyprompt.js";
import { EmbeddingMapView, DIGIT_COLOURS } from "/static/map.js";
import { DrawingPad } from "/static/pad.js";
import { Readiness } from "/static/readiness.js";
import { RecordButton } from "/static/recordbutton.js";
import { resultCard } from "/static/results.js";

const DRAW_DEBOUNCE_MS = 120; // while the pen moves: one search per pause this long (or per frame budget)
const $ = (id) => document.getElementById(id);

const ui = {
  status: $("status"), k: $("k"), target: $("target"), farthest: $("farthest"),
  prev: $("prev"), next: $("next"), page: $("page"), results: $("results"), note: $("results-note"),
  file: $("file"), drop: $("drop"), fileName: $("file-name"), record: $("record"), micState: $("mic-state"),
  searchState: $("search-state"),
};
const errors = {
  draw: $("draw-error"), file: $("file-error"), mic: $("mic-error"), text: $("text-error"),
  controls: $("controls-error"), similar: $("results-error"), map: $("map-error"),
};

// ---------------------------------------------------------------- errors next to their control
function showError(where, message) {
  for (const el of Object.values(errors)) if (el !== errors.map) el.textContent = "";
  if (where) errors[where].textContent = message;
}

// ---------------------------------------------------------------- query state and requests
// {kind: "upload", blob, source} | {kind: "similar", id, source: "similar"} | {kind: "text", text, source: "text"}
let query = null;
let offset = 0;
let pending = null;
let inFlight = false;

function params() {
  const k = Math.max(1, Math.min(100, Number.parseInt(ui.k.value, 10) || 5));
  const p = new URLSearchParams({ k: String(k), target: ui.target.value, offset: String(offset) });
  if (ui.farthest.checked) p.set("order", "farthest");
  return { k, qs: p.toString() };
}

function search(newQuery, { resetPage = true } = {}) {
  query = newQuery;
  if (resetPage) offset = 0;
  pending = query;
  if (!inFlight) pump();
}

async function pump() {
  inFlight = true;
  document.body.dataset.busy = "true";
  while (pending) {
    const q = pending;
    pending = null;
    try {
      await run(q);
    } catch (err) {
      if (!(err instanceof ApiError)) console.error(err);
      showError(q.source, err.message);
      if (err.status === 503) readiness.check(); // the banner catches up at once
    }
  }
  inFlight = false;
  document.body.dataset.busy = "false";
}

async function run(q) {
  const { k, qs } = params();
  let body;
  let placed = null;
  if (q.kind === "similar") {
    body = await api(`/items/${q.id}/similar?${qs}`);
    const p = map.byId.get(q.id);
    placed = p ? [p.x, p.y] : null;
  } else if (q.kind === "text") {
    body = await api(`/search/text?q=${encodeURIComponent(q.text)}&${qs}`);
  } else {
    const form = new FormData();
    form.append("file", q.blob, q.name);
    body = await api(`/search?${qs}`, { method: "POST", body: form });
  }
  if (pending) return; // a newer query is waiting: skip drawing this one
  showError(null);
  render(q, body, k);
  if (q.kind === "upload" && map.data) placed = await project(q);
  if (!pending) placeQuery(placed, body.results);
  document.body.dataset.searchCount = String(Number(document.body.dataset.searchCount) + 1);
}

async function project(q) {
  const form = new FormData();
  form.append("file", q.blob, q.name);
  try {
    const p = await api("/map/project", { method: "POST", body: form });
    return [p.x, p.y];
  } catch (err) {
    errors.map.textContent = err.message;
    return null;
  }
}

// ---------------------------------------------------------------- rendering
function render(q, body, k) {
  const info = body.query;
  if (q.kind === "similar") {
    $("u-modality").textContent = `indexed ${info.modality === "image" ? "image" : "recording"} (more like this)`;
    $("u-label").textContent = String(info.label);
    $("u-confidence").textContent = "–";
  } else if (q.kind === "text") {
    $("u-modality").textContent = `typed "${info.text}" (its class prototype)`;
    $("u-label").textContent = String(info.digit);
    $("u-confidence").textContent = "–";
  } else {
    $("u-modality").textContent = `${info.modality} (${info.format})`;
    $("u-label").textContent = String(info.predicted_label);
    $("u-confidence").textContent = `${(info.confidence * 100).toFixed(1)} %`;
  }
  if (q.kind === "upload") addToIndex.offer(q, info.predicted_label);
  else addToIndex.withdraw();
  const t = body.timings_ms;
  $("u-timings").textContent =
    `decode ${t.decode.toFixed(1)} ms · embed ${t.embed.toFixed(1)} ms · search ${t.search.toFixed(1)} ms · total ${t.total.toFixed(1)} ms`;

  releaseMedia();
  const similar = (id) => search({ kind: "similar", id, source: "similar" });
  const mediaFailed = (message) => { errors.similar.textContent = message; };
  ui.results.replaceChildren(...body.results.map((r) => resultCard(r, similar, mediaFailed, removeItem)));
  const order = ui.farthest.checked ? "most dissimilar" : "closest";
  ui.note.textContent = body.results.length
    ? `${order} ${body.target === "any" ? "items" : body.target === "image" ? "images" : "recordings"}, ${offset + 1}–${offset + body.results.length}`
    : "No results on this page.";
  ui.page.textContent = body.results.length ? `${offset + 1}–${offset + body.results.length}` : "–";
  ui.prev.disabled = offset === 0;
  ui.next.disabled = body.results.length < k;
}

// ---------------------------------------------------------------- the user's own items
const addToIndex = new AddToIndex($("add-form"), { onAdded: () => { rerun(); loadMap(); } });

async function removeItem(id, button) {
  button.disabled = true;
  try {
    await api(`/items/${encodeURIComponent(id)}`, { method: "DELETE" });
    rerun();
    loadMap();
  } catch (err) {
    errors.similar.textContent = err.message;
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- embedding map
const mapCanvas = $("map");
const map = new EmbeddingMapView(mapCanvas);

function placeQuery(point, results) {
  map.show(point, results.map((r) => r.id));
  if (point && map.data) {
    const [x, y] = map.toCanvas(point);
    mapCanvas.dataset.query = `${Math.round(x)},${Math.round(y)}`;
  } else {
    delete mapCanvas.dataset.query;
  }
  mapCanvas.dataset.highlighted = String(map.highlighted.length);
}

async function loadMap() {
  try {
    map.setData(await api("/map"));
    errors.map.textContent = "";
    mapCanvas.dataset.points = String(map.data.points.length);
    mapCanvas.dataset.userPoints = String(map.data.points.filter((p) => p.source === "user").length);
  } catch (err) {
    errors.map.textContent = `The map could not be loaded. ${err.message}`;
  }
}

mapCanvas.addEventListener("click", (e) => {
  const r = mapCanvas.getBoundingClientRect();
  const p = map.nearestPoint(((e.clientX - r.left) * mapCanvas.width) / r.width, ((e.clientY - r.top) * mapCanvas.height) / r.height);
  if (p) search({ kind: "similar", id: p.id, source: "similar" });
});

$("legend").replaceChildren(...DIGIT_COLOURS.map((_, d) => {
  const li = document.createElement("li");
  const sw = document.createElement("span");
  sw.className = `swatch c${d}`;
  li.append(sw, String(d));
  return li;
}));

// ---------------------------------------------------------------- drawing
let drawTimer = null;
const pad = new DrawingPad($("pad"), {
  onChange: ({ final }) => {
    clearTimeout(drawTimer);
    drawTimer = null;
    if (pad.empty) return;
    const fire = async () => {
      drawTimer = null;
      search({ kind: "upload", blob: await pad.toPng(), name: "drawing.png", source: "draw" });
    };
    if (final) fire();
    else drawTimer = setTimeout(fire, DRAW_DEBOUNCE_MS);
  },
});
// a steady stroke never pauses: also search every few hundred ms while it goes on
setInterval(() => {
  if (pad.current && !inFlight && !pending && drawTimer) {
    clearTimeout(drawTimer);
    drawTimer = null;
    pad.toPng().then((blob) => search({ kind: "upload", blob, name: "drawing.png", source: "draw" }));
  }
}, 400);
$("undo").addEventListener("click", () => pad.undo());
$("clear").addEventListener("click", () => pad.clear());

// ---------------------------------------------------------------- files
function searchFile(file) {
  if (!file) return;
  ui.fileName.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)`;
  search({ kind: "upload", blob: file, name: file.name, source: "file" });
}
ui.file.addEventListener("change", () => searchFile(ui.file.files[0]));
ui.drop.addEventListener("dragover", (e) => { e.preventDefault(); ui.drop.classList.add("over"); });
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", (e) => {
  e.preventDefault();
  ui.drop.classList.remove("over");
  searchFile(e.dataTransfer.files[0]);
});

// ---------------------------------------------------------------- typed digit
$("text-panel").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text-query").value.trim();
  if (!text) return showError("text", "Type a digit first, e.g. 7 or seven.");
  search({ kind: "text", text, source: "text" });
});

// ---------------------------------------------------------------- microphone
new RecordButton(ui.record, ui.micState, {
  onStart: () => showError(null),
  onRecorded: (wav) => search({ kind: "upload", blob: wav, name: "recording.wav", source: "mic" }),
  onError: (message) => showError("mic", message),
});

// ---------------------------------------------------------------- options and paging
function rerun() {
  if (query) search(query, { resetPage: false });
}
ui.k.addEventListener("change", () => {
  const k = Number.parseInt(ui.k.value, 10);
  if (!(k >= 1 && k <= 100)) return showError("controls", "The number of results must be between 1 and 100.");
  offset = 0;
  rerun();
});
ui.target.addEventListener("change", () => { offset = 0; rerun(); });
ui.farthest.addEventListener("change", () => { offset = 0; rerun(); });
ui.prev.addEventListener("click", () => { offset = Math.max(0, offset - params().k); rerun(); });
ui.next.addEventListener("click", () => { offset += params().k; rerun(); });

// ---------------------------------------------------------------- readiness and the API key
const readiness = new Readiness(ui.status, ui.searchState, { onReady: loadMap });
new KeyPrompt($("key-form"), {
  onKey: () => {
    showError(null);
    readiness.check();
    rerun();
  },
});
readiness.check();
