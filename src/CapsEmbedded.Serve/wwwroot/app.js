// The draw-a-digit page: pad → SIDE×SIDE bytes (MNIST-style: fit the strokes' box in (SIDE − 8)², as MNIST fits each
// digit's in 20×20, centre by mass) → /api/predict; sliders → /api/reconstruct. SIDE, the capsule dimensions and how many of the longest
// capsules a reading takes (TOP: 2 for MultiMNIST, one reconstruction per digit) come from /api/model. Plain JS, no
// dependencies, works offline.
"use strict";
const pad = document.getElementById("pad"), padCtx = pad.getContext("2d");
const recon = document.getElementById("recon");
const status = document.getElementById("status");
const RANGE = 0.25; // sliders: ±0.25 around the capsule, as paper Fig. 4
let SIDE = 0, DIMS = 0, TOP = 0; // /api/model's side, dims and top: the pad waits for them (model)
let drawing = false, last = null, timer = 0, pending = false, inFlight = false, again = false;
let capsule = null, predicted = -1, sliderBusy = false, sliderAgain = false;
let answer = [], chosen = 0; // the longest capsules of the last answer (not "top": window.top is unforgeable); the one the sliders edit
let classNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]; // replaced by /api/model's

// "7" for a digit; "1 (Trouser)" when the model names its classes (e.g. capsnet serve --model fashion).
const named = k => classNames[k] === String(k) ? String(k) : k + " (" + classNames[k] + ")";

const model = fetch("/api/model").then(r => r.json()).then(m => {
  classNames = m.classNames;
  SIDE = m.side; DIMS = m.dims; TOP = m.top;
  buildReconstructions();
  if (m.model !== "MnistCapsNet") {
    document.title = "CapsEmbedded: " + m.model;
    document.querySelector("h1").textContent = "Draw or load an image (" + m.model + ")";
  }
  document.body.dataset.model = m.model;
  document.body.dataset.side = String(SIDE);
}).catch(e => { status.textContent = "error: " + e; });

// One canvas per capsule of the answer: #recon (the longest), then #recon1… (MultiMNIST's second digit); a click on
// one points the sliders at its capsule.
const recons = () => Array.from({ length: TOP }, (_, r) => document.getElementById(r === 0 ? "recon" : "recon" + r));
function buildReconstructions() {
  const box = document.getElementById("recons");
  for (let r = 1; r < TOP; r++) {
    const c = document.createElement("canvas");
    Object.assign(c, { id: "recon" + r, width: recon.width, height: recon.height });
    c.setAttribute("aria-label", "reconstruction " + (r + 1));
    box.append(c);
  }
  recons().forEach((c, r) => c.addEventListener("click", () => { if (answer.length > r) choose(r); }));
  if (TOP > 1) document.getElementById("recon-title").textContent = "Reconstructions (each digit from its own capsule)";
}

function clearPad() {
  padCtx.fillStyle = "#000"; padCtx.fillRect(0, 0, pad.width, pad.height);
}
clearPad();
padCtx.lineCap = "round"; padCtx.lineJoin = "round";

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}
pad.addEventListener("pointerdown", e => { drawing = true; last = point(e); pad.setPointerCapture(e.pointerId); stroke(last); });
pad.addEventListener("pointermove", e => { if (drawing) stroke(point(e)); });
for (const end of ["pointerup", "pointercancel"]) pad.addEventListener(end, () => { drawing = false; last = null; schedule(0); });

function stroke(p) {
  padCtx.strokeStyle = "#fff"; padCtx.lineWidth = 20;
  padCtx.beginPath(); padCtx.moveTo(last.x, last.y); padCtx.lineTo(p.x + 0.01, p.y); padCtx.stroke();
  last = p;
  schedule(80);
}

// Debounced: at most one request in flight; a change during it sends once more afterwards.
function schedule(delay) { clearTimeout(timer); pending = true; timer = setTimeout(() => { pending = false; predictPad(); }, delay); }

// True when no request is waiting or running (the browser test waits for this before it checks the page).
window.capsnetIdle = () => !drawing && !pending && !inFlight && !again && !sliderBusy && !sliderAgain;

function padToSide() {
  const src = padCtx.getImageData(0, 0, pad.width, pad.height).data;
  let minX = pad.width, minY = pad.height, maxX = -1, maxY = -1;
  for (let y = 0; y < pad.height; y++) for (let x = 0; x < pad.width; x++)
    if (src[(y * pad.width + x) * 4] > 0) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
  const out = new Uint8Array(SIDE * SIDE);
  if (maxX < 0) return null;
  const w = maxX - minX + 1, h = maxY - minY + 1, scale = (SIDE - 8) / Math.max(w, h);
  const small = document.createElement("canvas"); small.width = SIDE; small.height = SIDE;
  const s = small.getContext("2d");
  s.fillStyle = "#000"; s.fillRect(0, 0, SIDE, SIDE); s.imageSmoothingQuality = "high";
  s.drawImage(pad, minX, minY, w, h, (SIDE - w * scale) / 2, (SIDE - h * scale) / 2, w * scale, h * scale);
  const px = s.getImageData(0, 0, SIDE, SIDE).data;
  let mass = 0, cx = 0, cy = 0;
  for (let i = 0; i < SIDE * SIDE; i++) { const v = px[i * 4]; mass += v; cx += v * (i % SIDE); cy += v * Math.floor(i / SIDE); }
  const mid = (SIDE - 1) / 2, dx = Math.round(mid - cx / mass), dy = Math.round(mid - cy / mass);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) {
    const sx = x - dx, sy = y - dy;
    if (sx >= 0 && sx < SIDE && sy >= 0 && sy < SIDE) out[y * SIDE + x] = px[(sy * SIDE + sx) * 4];
  }
  return out;
}

async function predictPad() {
  await model;
  const bytes = padToSide();
  if (bytes) await predict(bytes);
}

async function predict(bytes) {
  if (inFlight) { again = bytes; return; }
  inFlight = true;
  try {
    const r = await fetch("/api/predict", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
    const j = await r.json();
    if (!r.ok) { status.textContent = "error: " + j.error; return; }
    answer = j.top ?? [{ class: j.class, name: j.name, length: j.lengths[j.class], capsule: j.capsule, reconstruction: j.reconstruction }];
    showLengths(j.lengths, answer.map(t => t.class));
    const canvases = recons();
    answer.forEach((t, r) => { if (canvases[r]) drawImage(canvases[r], t.reconstruction); });
    choose(0);
    document.body.dataset.predictions = String(Number(document.body.dataset.predictions || 0) + 1);
    status.textContent = answer.length === 1
      ? "class " + named(j.class) + ", longest capsule " + j.lengths[j.class].toFixed(3)
      : "classes " + answer.map(t => named(t.class)).join(" and ") + ", the " + answer.length + " longest capsules "
        + answer.map(t => t.length.toFixed(3)).join(", ");
  } catch (e) {
    status.textContent = "error: " + e;
  } finally {
    inFlight = false;
    if (again) { const next = again; again = false; predict(next); }
  }
}

// Sliders edit capsule answer[r]: its values, and its reconstruction canvas is the one they redraw.
function choose(r) {
  chosen = r; capsule = Float32Array.from(answer[r].capsule); predicted = answer[r].class;
  recons().forEach((c, k) => c.classList.toggle("chosen", TOP > 1 && k === r));
  buildSliders();
}

function showLengths(lengths, best) {
  const box = document.getElementById("lengths");
  box.replaceChildren();
  document.getElementById("class").textContent = "→ " + best.map(named).join(" and ");
  lengths.forEach((v, k) => {
    const row = document.createElement("div");
    row.className = "bar" + (best.includes(k) ? " best" : ""); row.dataset.length = v.toFixed(4);
    const track = document.createElement("div"); track.className = "track";
    const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = (100 * Math.min(1, v)).toFixed(1) + "%";
    track.append(fill);
    row.append(named(k) + " ", track, " " + v.toFixed(3));
    box.append(row);
  });
}

function drawImage(canvas, pixels) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(SIDE, SIDE);
  pixels.forEach((v, i) => { img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v; img.data[i * 4 + 3] = 255; });
  const small = document.createElement("canvas"); small.width = SIDE; small.height = SIDE;
  small.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  canvas.dataset.ready = "1";
}

function buildSliders() {
  const box = document.getElementById("sliders");
  box.replaceChildren();
  for (let d = 0; d < DIMS; d++) {
    const label = document.createElement("span"); label.textContent = "d" + d;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -RANGE, max: RANGE, step: 0.01, value: 0 });
    input.dataset.dim = d;
    const value = document.createElement("span"); value.textContent = capsule[d].toFixed(2);
    input.addEventListener("input", () => { value.textContent = (capsule[d] + Number(input.value)).toFixed(2); tweak(); });
    box.append(label, input, value);
  }
}

async function tweak() {
  if (sliderBusy) { sliderAgain = true; return; }
  sliderBusy = true;
  try {
    const edited = new Float32Array(DIMS);
    document.querySelectorAll("#sliders input").forEach(s => { edited[s.dataset.dim] = capsule[s.dataset.dim] + Number(s.value); });
    const r = await fetch("/api/reconstruct?class=" + predicted, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: edited.buffer });
    const j = await r.json();
    if (!r.ok) { status.textContent = "error: " + j.error; return; }
    drawImage(recons()[chosen], j.reconstruction);
  } finally {
    sliderBusy = false;
    if (sliderAgain) { sliderAgain = false; tweak(); }
  }
}

document.getElementById("clear").addEventListener("click", () => { clearPad(); status.textContent = "Draw a digit."; });
document.getElementById("reset").addEventListener("click", () => { document.querySelectorAll("#sliders input").forEach(s => s.value = 0); if (capsule) tweak(); });
document.getElementById("load").addEventListener("click", async () => {
  await model;
  const i = document.getElementById("index").value;
  const r = await fetch("/api/digit/" + encodeURIComponent(i));
  const j = await r.json();
  if (!r.ok) { status.textContent = "error: " + j.error; return; }
  // Show the image on the pad (scaled up) and predict its exact SIDE×SIDE pixels.
  const img = padCtx.createImageData(SIDE, SIDE);
  j.pixels.forEach((v, k) => { img.data[k * 4] = img.data[k * 4 + 1] = img.data[k * 4 + 2] = v; img.data[k * 4 + 3] = 255; });
  const small = document.createElement("canvas"); small.width = SIDE; small.height = SIDE;
  small.getContext("2d").putImageData(img, 0, 0);
  padCtx.imageSmoothingEnabled = false; padCtx.drawImage(small, 0, 0, pad.width, pad.height);
  await predict(Uint8Array.from(j.pixels));
  const labels = j.labels ?? [j.label];
  status.textContent += " (test image " + j.index + ", label" + (labels.length > 1 ? "s " : " ") + labels.map(named).join(" and ") + ")";
});
