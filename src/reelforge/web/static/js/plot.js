// A small canvas line plot for training metrics: one series, axes with "nice" ticks and labels,
// the raw values plus a smoothed line once there are many points, and a hover readout.
// Points arrive one at a time (Server-Sent Events); drawing is batched to one per animation frame.
//
//   import { LinePlot } from "/static/js/plot.js";
//   const plot = new LinePlot(canvas, { name: "loss_g", color: "#e8b04b", xLabel: "step" });
//   plot.add(step, value);          // or plot.set([[step, value], ...])
//
// The canvas gets data-points (how many points it holds) and an aria-label saying the same and the
// last value, so a screen reader (and a test) can tell what it shows.

export const PALETTE = ["#e8b04b", "#7fb0ff", "#5fc28a", "#ef6b6b", "#c792ea", "#4dd0e1", "#ff9e64", "#b4d273"];

const THEME = {
  grid: "rgba(255,255,255,0.07)", axis: "#4a505c", tick: "#a3a8b3", label: "#c9ccd3",
  font: '11px system-ui, -apple-system, "Segoe UI", "Noto Sans", sans-serif',
  mono: '11px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
  tipBg: "rgba(20,22,26,0.94)", tipBorder: "#4a505c",
};
const MARGIN = { left: 56, right: 14, top: 12, bottom: 34 };

// Ticks at 1, 2, 2.5 or 5 × 10^k covering [lo, hi], about `count` of them.
export function niceTicks(lo, hi, count = 5, integer = false) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, "");
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
  return v.toPrecision(2).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

export class LinePlot {
  constructor(canvas, { name = "", color = PALETTE[0], xLabel = "step", describe = null } = {}) {
    this.canvas = canvas;
    this.name = name;
    this.color = color;
    this.xLabel = xLabel;
    this.describe = describe; // (count, last) → text for aria-label
    this.xs = [];
    this.ys = [];
    this.hover = null;
    this.pending = false;
    canvas.addEventListener("mousemove", (e) => this.onMove(e));
    canvas.addEventListener("mouseleave", () => { this.hover = null; this.schedule(); });
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => this.schedule()).observe(canvas);
    }
    this.schedule();
  }

  get count() { return this.xs.length; }

  set(points) {
    this.xs = [];
    this.ys = [];
    for (const [x, y] of [...points].sort((a, b) => a[0] - b[0])) { this.xs.push(x); this.ys.push(y); }
    this.changed();
  }

  // Add one point; a step seen before replaces its value (a resumed run reports it again).
  add(x, y) {
    const n = this.xs.length;
    if (!n || x > this.xs[n - 1]) {
      this.xs.push(x);
      this.ys.push(y);
    } else {
      let i = this.lowerBound(x);
      if (this.xs[i] === x) this.ys[i] = y;
      else { this.xs.splice(i, 0, x); this.ys.splice(i, 0, y); }
    }
    this.changed();
  }

  lowerBound(x) {
    let lo = 0, hi = this.xs.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.xs[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  changed() {
    const n = this.xs.length;
    this.canvas.dataset.points = String(n);
    const last = n ? this.ys[n - 1] : null;
    const text = this.describe ? this.describe(n, last) : `${this.name}: ${n} points${n ? `, last ${formatNumber(last)}` : ""}`;
    this.canvas.setAttribute("aria-label", text);
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  // Exponential moving average, its strength scaled to the number of points.
  smoothed() {
    const n = this.ys.length;
    const alpha = Math.min(1, 6 / Math.max(6, n / 4));
    const out = new Array(n);
    let acc = this.ys[0];
    for (let i = 0; i < n; i++) { acc = alpha * this.ys[i] + (1 - alpha) * acc; out[i] = acc; }
    return out;
  }

  geometry() {
    const w = this.canvas.clientWidth || 300;
    const h = this.canvas.clientHeight || 160;
    const n = this.xs.length;
    let x0 = n ? this.xs[0] : 0, x1 = n ? this.xs[n - 1] : 1;
    if (x1 === x0) x1 = x0 + 1;
    let y0 = Infinity, y1 = -Infinity;
    for (const y of this.ys) if (Number.isFinite(y)) { if (y < y0) y0 = y; if (y > y1) y1 = y; }
    if (!Number.isFinite(y0)) { y0 = 0; y1 = 1; }
    if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.08;
    y0 -= pad; y1 += pad;
    const pw = Math.max(10, w - MARGIN.left - MARGIN.right);
    const ph = Math.max(10, h - MARGIN.top - MARGIN.bottom);
    return {
      w, h, x0, x1, y0, y1, pw, ph,
      px: (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * pw,
      py: (y) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * ph,
    };
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const g = this.geometry();
    if (c.width !== Math.round(g.w * dpr) || c.height !== Math.round(g.h * dpr)) {
      c.width = Math.round(g.w * dpr);
      c.height = Math.round(g.h * dpr);
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.w, g.h);
    ctx.font = THEME.font;
    // grid and y ticks
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 1;
    for (const v of niceTicks(g.y0, g.y1, Math.max(2, Math.floor(g.ph / 32)))) {
      const y = Math.round(g.py(v)) + 0.5;
      ctx.strokeStyle = THEME.grid;
      ctx.beginPath(); ctx.moveTo(MARGIN.left, y); ctx.lineTo(MARGIN.left + g.pw, y); ctx.stroke();
      ctx.fillStyle = THEME.tick;
      ctx.fillText(formatNumber(v), MARGIN.left - 6, y);
    }
    // x ticks
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of niceTicks(g.x0, g.x1, Math.max(2, Math.floor(g.pw / 70)), true)) {
      const x = Math.round(g.px(v)) + 0.5;
      ctx.strokeStyle = THEME.grid;
      ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, MARGIN.top + g.ph); ctx.stroke();
      ctx.strokeStyle = THEME.axis;
      ctx.beginPath(); ctx.moveTo(x, MARGIN.top + g.ph); ctx.lineTo(x, MARGIN.top + g.ph + 4); ctx.stroke();
      ctx.fillStyle = THEME.tick;
      ctx.fillText(formatNumber(v), x, MARGIN.top + g.ph + 6);
    }
    // axes
    ctx.strokeStyle = THEME.axis;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left + 0.5, MARGIN.top);
    ctx.lineTo(MARGIN.left + 0.5, MARGIN.top + g.ph + 0.5);
    ctx.lineTo(MARGIN.left + g.pw, MARGIN.top + g.ph + 0.5);
    ctx.stroke();
    // axis labels
    ctx.fillStyle = THEME.label;
    ctx.textBaseline = "bottom";
    ctx.fillText(this.xLabel, MARGIN.left + g.pw / 2, g.h - 1);
    ctx.save();
    ctx.translate(11, MARGIN.top + g.ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(this.name, 0, 0);
    ctx.restore();

    const n = this.xs.length;
    if (!n) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN.left, MARGIN.top - 2, g.pw + 2, g.ph + 4);
    ctx.clip();
    const many = n > 40;
    this.line(ctx, g, this.ys, many ? 0.35 : 1, many ? 1 : 1.6);
    if (many) this.line(ctx, g, this.smoothed(), 1, 2);
    else {
      ctx.fillStyle = this.color;
      for (let i = 0; i < n; i++) {
        ctx.beginPath(); ctx.arc(g.px(this.xs[i]), g.py(this.ys[i]), 2.2, 0, 2 * Math.PI); ctx.fill();
      }
    }
    ctx.restore();
    if (this.hover !== null) this.drawHover(ctx, g);
  }

  // One polyline; many points are reduced to min/max per pixel column.
  line(ctx, g, ys, alpha, width) {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = this.color;
    ctx.lineWidth = width;
    ctx.lineJoin = "round";
    ctx.beginPath();
    const n = this.xs.length;
    if (n > g.pw * 3) {
      let col = -1, lo = 0, hi = 0, first = true;
      const flush = () => {
        if (col < 0) return;
        if (first) { ctx.moveTo(col, g.py(lo)); first = false; } else ctx.lineTo(col, g.py(lo));
        ctx.lineTo(col, g.py(hi));
      };
      for (let i = 0; i < n; i++) {
        const x = Math.round(g.px(this.xs[i]));
        const y = ys[i];
        if (!Number.isFinite(y)) continue;
        if (x !== col) { flush(); col = x; lo = hi = y; } else { lo = Math.min(lo, y); hi = Math.max(hi, y); }
      }
      flush();
    } else {
      let started = false;
      for (let i = 0; i < n; i++) {
        const y = ys[i];
        if (!Number.isFinite(y)) { started = false; continue; }
        if (!started) { ctx.moveTo(g.px(this.xs[i]), g.py(y)); started = true; } else ctx.lineTo(g.px(this.xs[i]), g.py(y));
      }
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  onMove(e) {
    if (!this.xs.length) return;
    const rect = this.canvas.getBoundingClientRect();
    const g = this.geometry();
    const x = g.x0 + ((e.clientX - rect.left - MARGIN.left) / g.pw) * (g.x1 - g.x0);
    let i = Math.min(this.xs.length - 1, this.lowerBound(x));
    if (i > 0 && Math.abs(this.xs[i - 1] - x) < Math.abs(this.xs[i] - x)) i -= 1;
    this.hover = i;
    this.schedule();
  }

  drawHover(ctx, g) {
    const i = this.hover;
    if (i === null || i >= this.xs.length) return;
    const x = g.px(this.xs[i]);
    const y = g.py(this.ys[i]);
    ctx.strokeStyle = "rgba(255,255,255,0.25)";
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, MARGIN.top + g.ph); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = this.color;
    ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI); ctx.fill();
    const text = `${this.xLabel} ${this.xs[i]} · ${formatNumber(this.ys[i])}`;
    ctx.font = THEME.mono;
    const tw = ctx.measureText(text).width + 12;
    let bx = x + 8;
    if (bx + tw > g.w - 2) bx = x - 8 - tw;
    const by = Math.max(2, Math.min(y - 24, g.h - MARGIN.bottom - 22));
    ctx.fillStyle = THEME.tipBg;
    ctx.strokeStyle = THEME.tipBorder;
    ctx.beginPath();
    ctx.rect(bx, by, tw, 20);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = THEME.label;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(text, bx + 6, by + 10);
  }
}
