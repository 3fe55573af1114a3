// The page of one asset: image zoom (fit / 100% with drag and wheel pan), video frame stepping
// with a timecode, an audio waveform (decoded in the browser), and tag editing for writers.
import { api, data, t, toast } from "/static/js/app.js";

const view = data("asset-view") || {};
const fmt = (s, vals) => t(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));
const typing = (e) => e.target.closest("input, textarea, select, [contenteditable]");

// -- image ----------------------------------------------------------------------------------------
function wireImage() {
  const stage = document.getElementById("image-stage");
  const img = document.getElementById("image-view");
  if (!stage || !img) return;
  const fitBtn = document.getElementById("zoom-fit");
  const fullBtn = document.getElementById("zoom-100");
  const state = document.getElementById("zoom-state");

  function set(actual, at) {
    // Keep the point under the cursor (or the centre) where it was when switching to 100%.
    const r = img.getBoundingClientRect();
    const fx = at ? (at.x - r.left) / r.width : 0.5;
    const fy = at ? (at.y - r.top) / r.height : 0.5;
    stage.classList.toggle("actual", actual);
    stage.classList.toggle("fit", !actual);
    stage.dataset.zoom = actual ? "100" : "fit";
    fitBtn.setAttribute("aria-pressed", String(!actual));
    fullBtn.setAttribute("aria-pressed", String(actual));
    state.textContent = actual ? t("Actual size (100%)") : t("Fit to view");
    if (actual) {
      img.style.width = `${img.naturalWidth}px`;
      img.style.height = `${img.naturalHeight}px`;
      stage.scrollLeft = fx * img.naturalWidth - stage.clientWidth / 2;
      stage.scrollTop = fy * img.naturalHeight - stage.clientHeight / 2;
    } else {
      img.style.width = "";
      img.style.height = "";
    }
  }
  const isActual = () => stage.classList.contains("actual");
  fitBtn.addEventListener("click", () => set(false));
  fullBtn.addEventListener("click", () => set(true));

  // Drag to pan at 100%; a click without a drag toggles.
  let drag = null;
  stage.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, left: stage.scrollLeft, top: stage.scrollTop, moved: false };
    if (isActual()) stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (isActual() && drag.moved) {
      stage.classList.add("dragging");
      stage.scrollLeft = drag.left - dx;
      stage.scrollTop = drag.top - dy;
    }
  });
  const end = (e) => {
    if (!drag) return;
    const click = !drag.moved;
    drag = null;
    stage.classList.remove("dragging");
    if (click && e.type === "pointerup") set(!isActual(), { x: e.clientX, y: e.clientY });
  };
  stage.addEventListener("pointerup", end);
  stage.addEventListener("pointercancel", end);
  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "z" || e.key === "Z") set(!isActual());
    else if (e.key === "1") set(true);
    else if (e.key === "0" || e.key === "f") set(false);
    else if (isActual() && document.activeElement === stage) {
      const d = { ArrowLeft: [-60, 0], ArrowRight: [60, 0], ArrowUp: [0, -60], ArrowDown: [0, 60] }[e.key];
      if (d) { e.preventDefault(); stage.scrollBy(d[0], d[1]); }
    }
  });
}

// -- video ----------------------------------------------------------------------------------------
function wireVideo() {
  const video = document.getElementById("video-view");
  if (!video) return;
  const fps = Number(view.fps) || 24;
  const nominal = Math.round(fps);
  const total = Number(view.frames) || null;
  const tc = document.getElementById("timecode");
  const frameNo = document.getElementById("frame-no");
  const play = document.getElementById("play-toggle");
  const scrub = document.getElementById("scrub");
  const mute = document.getElementById("mute-toggle");
  const pad = (n) => String(n).padStart(2, "0");
  const frameAt = (sec) => Math.max(0, Math.floor(sec * fps + 1e-3));

  function show() {
    const f = frameAt(video.currentTime);
    const secs = Math.floor(f / nominal);
    tc.textContent = `${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}:${pad(f % nominal)}`;
    tc.dataset.frame = String(f);
    frameNo.textContent = total ? fmt("frame {n} of {total}", { n: f + 1, total }) : fmt("frame {n}", { n: f + 1 });
    play.textContent = video.paused ? t("Play") : t("Pause");
    if (scrub && document.activeElement !== scrub) scrub.value = String(f);
  }
  function step(d) {
    video.pause();
    const last = total ? total - 1 : Math.max(0, frameAt(video.duration || 0) - 1);
    const f = Math.min(last, Math.max(0, frameAt(video.currentTime) + d));
    video.currentTime = (f + 0.5) / fps; // the middle of the frame: no rounding onto its neighbour
  }
  for (const ev of ["timeupdate", "seeked", "loadedmetadata", "play", "pause"]) video.addEventListener(ev, show);
  if ("requestVideoFrameCallback" in video) {
    const tick = () => { show(); video.requestVideoFrameCallback(tick); };
    video.requestVideoFrameCallback(tick);
  }
  document.getElementById("frame-back").addEventListener("click", () => step(-1));
  document.getElementById("frame-fwd").addEventListener("click", () => step(1));
  const toggle = () => (video.paused ? video.play().catch(() => {}) : video.pause());
  play.addEventListener("click", toggle);
  video.addEventListener("click", toggle);
  scrub?.addEventListener("input", () => {
    video.pause();
    video.currentTime = (Number(scrub.value) + 0.5) / fps;
  });
  mute?.addEventListener("click", () => {
    video.muted = !video.muted;
    mute.setAttribute("aria-pressed", String(video.muted));
  });
  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === ",") { e.preventDefault(); step(-1); }
    else if (e.key === ".") { e.preventDefault(); step(1); }
    else if (e.key === " " && !e.target.closest("button, a")) {
      e.preventDefault();
      toggle();
    }
  });
  // Proxy or original: the same time in the other file.
  for (const [id, attr] of [["src-proxy", "proxy"], ["src-original", "original"]]) {
    const btn = document.getElementById(id);
    btn?.addEventListener("click", () => {
      const at = video.currentTime;
      video.src = video.dataset[attr];
      video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
      for (const other of ["src-proxy", "src-original"]) document.getElementById(other).setAttribute("aria-pressed", String(other === id));
    });
  }
  show();
}

// -- audio ----------------------------------------------------------------------------------------
const MAX_DECODE_MB = 80; // bigger files are played, not decoded whole in the page

function wireAudio() {
  const canvas = document.getElementById("waveform");
  const audio = document.getElementById("audio-view");
  if (!canvas || !audio) return;
  const note = document.getElementById("wave-note");
  let peaks = null; // [min, max] pairs, 2048 columns

  function draw() {
    const w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    g.fillStyle = "#111318";
    g.fillRect(0, 0, w, h);
    g.strokeStyle = "#262a31";
    g.beginPath(); g.moveTo(0, h / 2); g.lineTo(w, h / 2); g.stroke();
    if (!peaks) return;
    const n = peaks.length / 2;
    const played = audio.duration ? audio.currentTime / audio.duration : 0;
    for (let x = 0; x < w; x++) {
      const a = Math.floor((x / w) * n), b = Math.max(a + 1, Math.floor(((x + 1) / w) * n));
      let lo = 1, hi = -1;
      for (let i = a; i < b && i < n; i++) { lo = Math.min(lo, peaks[2 * i]); hi = Math.max(hi, peaks[2 * i + 1]); }
      g.fillStyle = x / w < played ? "#e8b04b" : "#5d7fb8";
      const y1 = h / 2 - hi * (h / 2 - 4), y2 = h / 2 - lo * (h / 2 - 4);
      g.fillRect(x, y1, 1, Math.max(1, y2 - y1));
    }
    g.fillStyle = "#f3d899";
    g.fillRect(Math.round(played * w), 0, 1.5, h);
  }

  async function decode() {
    if (view.size > MAX_DECODE_MB * 1024 * 1024) throw new Error(fmt("the file is over {mb} MB", { mb: MAX_DECODE_MB }));
    const res = await fetch(view.content, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`${res.status}`);
    const buf = await res.arrayBuffer();
    // An OfflineAudioContext decodes without a user gesture (no autoplay policy involved).
    const ctx = new OfflineAudioContext(1, 1, 44100);
    let audioBuf;
    try { audioBuf = await ctx.decodeAudioData(buf); } catch { throw new Error(t("the browser cannot decode it")); }
    const cols = 2048, chans = audioBuf.numberOfChannels, len = audioBuf.length;
    const out = new Float32Array(cols * 2);
    const channels = [...Array(chans).keys()].map((c) => audioBuf.getChannelData(c));
    for (let i = 0; i < cols; i++) {
      const a = Math.floor((i * len) / cols), b = Math.max(a + 1, Math.floor(((i + 1) * len) / cols));
      let lo = 0, hi = 0;
      for (const ch of channels) for (let j = a; j < b && j < len; j++) { const v = ch[j]; if (v < lo) lo = v; if (v > hi) hi = v; }
      out[2 * i] = lo; out[2 * i + 1] = hi;
    }
    return out;
  }

  draw();
  decode().then((p) => {
    peaks = p;
    canvas.dataset.drawn = "true";
    note.hidden = true;
    draw();
  }).catch((err) => {
    note.textContent = fmt("Waveform not drawn: {reason}", { reason: err.message });
    canvas.dataset.drawn = "false";
  });
  let raf = 0;
  const loop = () => { draw(); raf = audio.paused ? 0 : requestAnimationFrame(loop); };
  audio.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(loop); });
  for (const ev of ["pause", "seeked", "ended", "loadedmetadata"]) audio.addEventListener(ev, draw);
  canvas.addEventListener("click", (e) => {
    if (!audio.duration) return;
    const r = canvas.getBoundingClientRect();
    audio.currentTime = ((e.clientX - r.left) / r.width) * audio.duration;
  });
  new ResizeObserver(() => draw()).observe(canvas);
}

// -- tags -----------------------------------------------------------------------------------------
function wireTags() {
  const form = document.getElementById("tag-form");
  const box = document.getElementById("tag-list");
  if (!form || !box) return;
  function render(tags) {
    const chips = tags.map((tg) => {
      const chip = Object.assign(document.createElement("span"), { className: "tag av-tag", textContent: tg + " " });
      const x = Object.assign(document.createElement("button"), { type: "button", className: "av-untag", textContent: "×" });
      x.dataset.tag = tg;
      x.setAttribute("aria-label", fmt("Remove tag {tag}", { tag: tg }));
      chip.append(x);
      return chip;
    });
    if (!chips.length) chips.push(Object.assign(document.createElement("span"), { className: "muted small", id: "no-tags", textContent: t("No tags.") }));
    box.replaceChildren(...chips);
  }
  async function patch(body, done) {
    try {
      const a = await api(`/api/v1/assets/${encodeURIComponent(view.id)}`, { method: "PATCH", body });
      render(a.tags);
      toast(t(done));
      return true;
    } catch (err) {
      toast(err.message, { error: true });
      return false;
    }
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("new-tag");
    const tag = input.value.trim();
    if (!tag) return;
    if (await patch({ add_tags: [tag] }, "Tag added")) input.value = "";
  });
  box.addEventListener("click", (e) => {
    const x = e.target.closest("button.av-untag");
    if (x) patch({ remove_tags: [x.dataset.tag] }, "Tag removed");
  });
}

wireImage();
wireVideo();
wireAudio();
wireTags();
