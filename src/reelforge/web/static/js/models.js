// A model's page: the training curves (a small canvas plot of /api/v1/jobs/{id}/metrics, axes
// labelled, series toggled from the legend) and the scrubber through the sample grids saved while
// the model trained.
import { api, data, el, t } from "/static/js/app.js";

const fmt = (s, values) => s.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
const COLORS = ["#e8b04b", "#7fb0ff", "#5fc28a", "#ef6b6b", "#b48ef0", "#4fd1c5", "#f78fb3", "#c0c4cc"];

function niceTicks(lo, hi, count = 5, minStep = 0) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = Math.max((hi - lo) / count, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw && (!minStep || Number.isInteger(s))) || raw;
  const start = Math.ceil(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const label = (v) => {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(+v.toPrecision(4));
};

export function drawPlot(canvas, series, hidden) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || canvas.width;
  const cssH = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const pad = { l: 62, r: 18, t: 14, b: 44 };
  const w = cssW - pad.l - pad.r;
  const h = cssH - pad.t - pad.b;
  const shown = Object.entries(series).filter(([name]) => !hidden.has(name));
  const pts = shown.flatMap(([, p]) => p);
  if (!pts.length) return 0;
  let [x0, x1] = [Math.min(...pts.map((p) => p.step)), Math.max(...pts.map((p) => p.step))];
  let [y0, y1] = [Math.min(...pts.map((p) => p.value)), Math.max(...pts.map((p) => p.value))];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const yPad = (y1 - y0) * 0.06;
  y0 -= yPad; y1 += yPad;
  const X = (s) => pad.l + ((s - x0) / (x1 - x0)) * w;
  const Y = (v) => pad.t + h - ((v - y0) / (y1 - y0)) * h;
  const css = getComputedStyle(document.documentElement);
  const muted = css.getPropertyValue("--muted").trim() || "#a3a8b3";
  const grid = "#2a2e36";
  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  // grid and tick labels
  g.fillStyle = muted;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (const v of niceTicks(y0, y1)) {
    g.strokeStyle = grid;
    g.beginPath(); g.moveTo(pad.l, Y(v) + 0.5); g.lineTo(pad.l + w, Y(v) + 0.5); g.stroke();
    g.fillText(label(v), pad.l - 8, Y(v));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  for (const s of niceTicks(x0, x1, 6, 1)) {  // steps are whole numbers
    if (s < x0 || s > x1) continue;
    g.strokeStyle = grid;
    g.beginPath(); g.moveTo(X(s) + 0.5, pad.t); g.lineTo(X(s) + 0.5, pad.t + h); g.stroke();
    g.fillText(label(s), X(s), pad.t + h + 6);
  }
  // axes
  g.strokeStyle = "#4a505c";
  g.beginPath(); g.moveTo(pad.l + 0.5, pad.t); g.lineTo(pad.l + 0.5, pad.t + h + 0.5); g.lineTo(pad.l + w, pad.t + h + 0.5); g.stroke();
  // axis titles
  g.fillStyle = muted;
  g.font = "12px system-ui, sans-serif";
  g.fillText(t("step"), pad.l + w / 2, pad.t + h + 24);
  g.save();
  g.translate(14, pad.t + h / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "middle";
  g.fillText(t("value"), 0, 0);
  g.restore();
  // series
  const names = Object.keys(series);
  g.lineWidth = 1.8;
  g.lineJoin = "round";
  for (const [name, p] of shown) {
    g.strokeStyle = COLORS[names.indexOf(name) % COLORS.length];
    g.beginPath();
    p.forEach((q, i) => (i ? g.lineTo(X(q.step), Y(q.value)) : g.moveTo(X(q.step), Y(q.value))));
    g.stroke();
    if (p.length < 40) {
      g.fillStyle = g.strokeStyle;
      for (const q of p) { g.beginPath(); g.arc(X(q.step), Y(q.value), 2.2, 0, Math.PI * 2); g.fill(); }
    }
  }
  return pts.length;
}

async function curves(canvas) {
  const legend = document.getElementById("plot-legend");
  let series = {};
  try {
    series = (await api(`jobs/${encodeURIComponent(canvas.dataset.job)}/metrics`)).series || {};
  } catch (e) {
    canvas.hidden = true;
    const empty = document.getElementById("plot-empty");
    empty.textContent = e.message;
    empty.hidden = false;
    return;
  }
  const names = Object.keys(series);
  if (!names.length) {
    canvas.hidden = true;
    document.getElementById("plot-empty").hidden = false;
    return;
  }
  const hidden = new Set();
  const redraw = () => {
    const n = drawPlot(canvas, series, hidden);
    canvas.dataset.points = String(n);
    canvas.dataset.series = names.filter((x) => !hidden.has(x)).join(",");
  };
  canvas.setAttribute("aria-label", fmt(t("Training metrics over steps: %(series)s"), {
    series: names.map((n) => `${n} (${series[n].length})`).join(", "),
  }));
  names.forEach((name, i) => {
    const last = series[name][series[name].length - 1];
    const b = el("button", {
      type: "button", class: "legend-item", "aria-pressed": "true", "data-series": name,
      title: fmt(t("Show or hide %(name)s"), { name }),
    }, el("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }), name,
    el("span", { class: "legend-last mono" }, last ? label(last.value) : ""));
    b.addEventListener("click", () => {
      if (hidden.has(name)) hidden.delete(name); else if (hidden.size < names.length - 1) hidden.add(name);
      b.setAttribute("aria-pressed", String(!hidden.has(name)));
      redraw();
    });
    legend.append(b);
  });
  redraw();
  let pending = 0;
  window.addEventListener("resize", () => { cancelAnimationFrame(pending); pending = requestAnimationFrame(redraw); });
}

function scrubber(root) {
  const frames = data("model-strip") || [];
  if (!frames.length) return;
  const range = document.getElementById("scrub");
  const img = document.getElementById("stage-img");
  const stepOut = document.getElementById("stage-step");
  const pos = document.getElementById("stage-pos");
  const link = document.getElementById("stage-link");
  const buttons = [...root.querySelectorAll(".strip-frame")];
  const play = document.getElementById("scrub-play");
  let timer = 0;
  const show = (i, { focus = false } = {}) => {
    i = Math.max(0, Math.min(frames.length - 1, i));
    const f = frames[i];
    range.value = String(i);
    range.setAttribute("aria-valuetext", `${t("Step")} ${f.step}`);
    img.src = `/api/v1/assets/${f.id}/content`;
    img.alt = fmt(t("Sample grid at step %(step)s"), { step: f.step });
    stepOut.textContent = String(f.step);
    pos.textContent = `${i + 1} / ${frames.length}`;
    link.href = `/assets/${f.id}`;
    root.dataset.index = String(i);
    buttons.forEach((b, j) => {
      b.classList.toggle("current", j === i);
      if (j === i) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
    buttons[i]?.scrollIntoView({ block: "nearest", inline: "nearest" });
    if (focus) buttons[i]?.focus();
  };
  range.addEventListener("input", () => show(Number(range.value)));
  buttons.forEach((b, i) => {
    b.addEventListener("click", () => show(i));
    b.addEventListener("keydown", (e) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: frames.length - 1 };
      if (e.key in moves) { e.preventDefault(); show(moves[e.key], { focus: true }); }
    });
  });
  const stop = () => {
    clearInterval(timer); timer = 0;
    play.setAttribute("aria-pressed", "false");
    play.textContent = `▶ ${t("Play")}`;
  };
  play.addEventListener("click", () => {
    if (timer) { stop(); return; }
    let i = Number(range.value) >= frames.length - 1 ? 0 : Number(range.value);
    show(i);
    play.setAttribute("aria-pressed", "true");
    play.textContent = `❚❚ ${t("Pause")}`;
    timer = setInterval(() => {
      i += 1;
      if (i >= frames.length) { stop(); return; }
      show(i);
    }, 600);
  });
}

const canvas = document.getElementById("metrics-plot");
if (canvas) curves(canvas);
const scrub = document.getElementById("scrubber");
if (scrub) scrubber(scrub);
