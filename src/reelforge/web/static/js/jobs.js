// The queue page and the job page, kept live from the API.
//   queue: running jobs with progress, queued jobs in run order (drag, or move up/down buttons, to
//          reorder: PATCH /api/v1/jobs/{id} {priority}), pause/resume, cancel/retry; polls every 2 s.
//   job:   progress, log tail, metric plots and training samples, live from the job's Server-Sent
//          Events (progress, log, metric, end) after reading what is there already.
import { api, ApiError, data, el, t, toast } from "/static/js/app.js";
import { LinePlot, PALETTE } from "/static/js/plot.js";

const fmt = (s, vals) => s.replace(/%\((\w+)\)s/g, (_, k) => String(vals[k]));
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const enc = encodeURIComponent;

function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return "< 1 s";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function percent(done, total, status) {
  if (total) return Math.max(0, Math.min(100, (100 * done) / total));
  return status === "succeeded" ? 100 : 0;
}

function badge(status) {
  return el("span", { class: `badge status-${status}`, text: t(status) });
}

function progressBar(job, label) {
  const pct = percent(job.progress_done, job.progress_total, job.status);
  const bar = el("div", { class: "progress-bar", style: `width: ${pct.toFixed(1)}%` });
  const box = el("div", {
    class: "progress" + (job.status === "running" && !job.progress_total ? " indeterminate" : ""),
    role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(pct)),
    "aria-label": label,
  }, bar);
  return box;
}

function updateBar(box, done, total, status) {
  const pct = percent(done, total, status);
  box.setAttribute("aria-valuenow", String(Math.round(pct)));
  box.classList.toggle("indeterminate", status === "running" && !total);
  box.querySelector(".progress-bar").style.width = `${pct.toFixed(1)}%`;
  return pct;
}

function announce(text) {
  const live = document.getElementById("queue-live");
  if (live) live.textContent = text;
}

async function act(path, okMessage) {
  try {
    const out = await api(path, { method: "POST" });
    if (okMessage) toast(okMessage);
    return out;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    toast(e.message, { error: true });
    return null;
  }
}

// ================================================================================================
// The queue
// ================================================================================================

// New priorities that put `order` (job objects, top first) in run order, changing as few jobs as
// possible: first try the moved job alone, else walk up from the bottom raising what must rise.
// Ties run by (run_after, id), so an equal priority is enough when that order agrees.
export function plan(order, moved) {
  const before = (a, b) => (a.run_after < b.run_after) || (a.run_after === b.run_after && a.id < b.id);
  const fits = (i, p, list) => {
    const above = list[i - 1], below = list[i + 1];
    const job = { ...list[i], priority: p };
    const okAbove = !above || above.priority > p || (above.priority === p && before(above, job));
    const okBelow = !below || p > below.priority || (p === below.priority && before(job, below));
    return okAbove && okBelow;
  };
  const i = order.findIndex((j) => j.id === moved);
  if (i >= 0) {
    const lo = order[i + 1] ? order[i + 1].priority : -1000;
    const hi = order[i - 1] ? order[i - 1].priority : 1000;
    const cands = [];
    for (let p = Math.max(-1000, lo); p <= Math.min(1000, hi); p++) cands.push(p);
    cands.sort((a, b) => Math.abs(a - order[i].priority) - Math.abs(b - order[i].priority));
    const p = cands.find((c) => fits(i, c, order));
    if (p !== undefined) return p === order[i].priority ? [] : [[order[i].id, p]];
  }
  // Renumber: from the bottom up, keep each priority when it still runs after the one above.
  const out = [];
  const list = order.map((j) => ({ ...j }));
  for (let k = list.length - 2; k >= 0; k--) {
    const below = list[k + 1];
    const cur = list[k];
    if (cur.priority > below.priority || (cur.priority === below.priority && before(cur, below))) continue;
    const p = before(cur, below) ? below.priority : below.priority + 1;
    cur.priority = Math.min(1000, p);
    out.push([cur.id, cur.priority]);
  }
  return out;
}

function wireQueue(cfg) {
  const project = cfg.project;
  let live = cfg.live;
  let busy = false; // a reorder is being written: the next poll waits
  let dragging = null;
  const runningEl = document.getElementById("running");
  const queuedEl = document.getElementById("queued");

  function renderState() {
    const paused = live.queue.paused;
    const stateEl = document.getElementById("queue-state");
    stateEl.textContent = paused ? t("Paused") : t("Taking jobs");
    stateEl.className = `badge queue-${paused ? "paused" : "live"}`;
    const pause = document.getElementById("btn-pause");
    const resume = document.getElementById("btn-resume");
    if (pause) pause.hidden = paused;
    if (resume) resume.hidden = !paused;
    const n = live.workers;
    document.getElementById("workers").textContent = n === 1 ? t("1 worker online") : fmt(t("%(n)s workers online"), { n });
  }

  function jobLink(j) {
    return el("div", { class: "job-title" },
      el("a", { href: `/jobs/${enc(j.id)}`, class: "mono", text: j.task }),
      el("span", { class: "muted small mono", text: ` ${j.id}` }));
  }

  function renderRunning() {
    const now = Date.now() / 1000;
    const seen = new Set();
    for (const j of live.running) {
      seen.add(j.id);
      let li = runningEl.querySelector(`li[data-job-id="${CSS.escape(j.id)}"]`);
      if (!li) {
        li = el("li", { class: "job-item", "data-job-id": j.id },
          el("div", { class: "job-line" }, jobLink(j), el("span", { class: "job-who small muted" })),
          el("div", { class: "job-progress" }, progressBar(j, j.task), el("span", { class: "pct mono small" })),
          el("div", { class: "job-line small" }, el("span", { class: "job-msg muted" }), el("span", { class: "job-time muted" })));
        if (cfg.can_write) {
          li.querySelector(".job-line").append(el("button", {
            type: "button", class: "btn small danger", "data-action": "cancel", "data-job": j.id,
          }, t("Cancel"), el("span", { class: "visually-hidden", text: ` ${j.task} ${j.id}` })));
        }
        runningEl.append(li);
      }
      const pct = updateBar(li.querySelector(".progress"), j.progress_done, j.progress_total, j.status);
      li.querySelector(".pct").textContent = j.progress_total ? `${Math.round(pct)}%` : "";
      li.querySelector(".job-msg").textContent = j.cancel_requested ? t("cancel requested") : (j.progress_message || "");
      li.querySelector(".job-who").textContent = fmt(t("by %(who)s"), { who: j.submitted_by || t("local") });
      li.querySelector(".job-time").textContent = j.started_at ? fmt(t("running for %(t)s"), { t: duration(now - j.started_at) }) : "";
    }
    for (const li of [...runningEl.children]) if (!seen.has(li.dataset.jobId)) li.remove();
    document.getElementById("running-empty").hidden = live.running.length > 0;
    document.getElementById("running-count").textContent = String(live.running.length);
  }

  function renderQueued(focus = null) {
    const now = Date.now() / 1000;
    queuedEl.replaceChildren();
    live.queued.forEach((j, i) => {
      const li = el("li", { class: "job-item queued-item", "data-job-id": j.id, "data-priority": String(j.priority) });
      if (cfg.can_write) {
        li.draggable = true;
        li.append(el("span", { class: "drag-handle", title: t("Drag to reorder"), "aria-hidden": "true", text: "⠿" }));
      }
      li.append(el("span", { class: "pos mono", text: String(i + 1) }));
      li.append(el("div", { class: "job-main-col" },
        jobLink(j),
        el("div", { class: "small muted" },
          fmt(t("by %(who)s"), { who: j.submitted_by || t("local") }), " · ",
          fmt(t("waiting %(t)s"), { t: duration(now - j.created_at) }))));
      li.append(el("span", { class: "prio badge", title: t("priority"), text: `${t("priority")} ${j.priority}` }));
      if (cfg.can_write) {
        const up = el("button", { type: "button", class: "btn small ghost", "data-move": "up", "data-job": j.id, disabled: i === 0 },
          "↑", el("span", { class: "visually-hidden", text: ` ${t("Move up")}: ${j.task} ${j.id}` }));
        const down = el("button", { type: "button", class: "btn small ghost", "data-move": "down", "data-job": j.id, disabled: i === live.queued.length - 1 },
          "↓", el("span", { class: "visually-hidden", text: ` ${t("Move down")}: ${j.task} ${j.id}` }));
        up.title = t("Move up");
        down.title = t("Move down");
        const cancel = el("button", { type: "button", class: "btn small danger", "data-action": "cancel", "data-job": j.id },
          t("Cancel"), el("span", { class: "visually-hidden", text: ` ${j.task} ${j.id}` }));
        li.append(el("div", { class: "row-actions" }, up, down, cancel));
      }
      queuedEl.append(li);
    });
    document.getElementById("queued-empty").hidden = live.queued.length > 0;
    document.getElementById("queued-count").textContent = String(live.queued.length);
    if (focus) queuedEl.querySelector(`button[data-job="${CSS.escape(focus[0])}"][data-move="${focus[1]}"]:not([disabled])`)?.focus()
      || queuedEl.querySelector(`button[data-job="${CSS.escape(focus[0])}"][data-move]:not([disabled])`)?.focus();
  }

  // What was running or queued when the history was rendered: when that changes, it is re-read.
  let historyIds = [...live.running, ...live.queued].map((j) => j.id).join(",");
  async function refreshHistory() {
    const box = document.getElementById("history");
    if (!box || box.dataset.cursor) return; // an older page stays as it is
    const q = new URLSearchParams();
    if (box.dataset.status) q.set("status", box.dataset.status);
    try {
      const res = await fetch(`/p/${enc(project)}/jobs/history?${q}`, { credentials: "same-origin" });
      if (!res.ok) return;
      const html = await res.text();
      const tpl = document.createElement("template");
      tpl.innerHTML = html.trim();
      const fresh = tpl.content.querySelector("#history");
      if (fresh) box.replaceWith(fresh);
    } catch { /* the next poll tries again */ }
  }

  async function poll() {
    if (busy || dragging) return;
    const base = `/api/v1/projects/${enc(project)}/jobs`;
    try {
      const [running, queued, queue, workers] = await Promise.all([
        api(`${base}?status=running&limit=100`),
        api(`${base}?status=queued&sort=priority&order=desc&limit=200`),
        api("/api/v1/queue"),
        api("/api/v1/workers"),
      ]);
      if (busy || dragging) return;
      const order = queued.items.sort((a, b) => (b.priority - a.priority) || (a.run_after - b.run_after) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const ids = [...running.items, ...order].map((j) => j.id).join(",");
      const changed = ids !== historyIds;
      historyIds = ids;
      const queuedKey = (list) => list.map((j) => `${j.id}:${j.priority}`).join(",");
      const requeue = queuedKey(order) !== queuedKey(live.queued);
      live = { ...live, running: running.items, queued: order, queue, workers: workers.alive };
      renderState();
      renderRunning();
      if (requeue && !queuedEl.contains(document.activeElement)) renderQueued();
      else if (requeue) renderQueued([document.activeElement.dataset.job, document.activeElement.dataset.move]);
      if (changed) refreshHistory();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  }

  async function move(jobId, to) {
    const from = live.queued.findIndex((j) => j.id === jobId);
    if (from < 0 || to < 0 || to >= live.queued.length || to === from) return false;
    const order = [...live.queued];
    const [job] = order.splice(from, 1);
    order.splice(to, 0, job);
    const changes = plan(order, jobId);
    busy = true;
    try {
      for (const [id, priority] of changes) {
        const updated = await api(`/api/v1/jobs/${enc(id)}`, { method: "PATCH", body: { priority } });
        const k = order.findIndex((j) => j.id === id);
        if (k >= 0) order[k] = { ...order[k], ...updated };
      }
      live = { ...live, queued: order };
      announce(fmt(t("Moved to position %(n)s"), { n: to + 1 }));
      return true;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      toast(e.message, { error: true });
      return false;
    } finally {
      busy = false;
    }
  }

  // buttons: move up/down, cancel, retry (running, queued and history rows)
  document.addEventListener("click", async (e) => {
    const btn = e.target.closest("button");
    if (!btn) return;
    if (btn.dataset.move) {
      const from = live.queued.findIndex((j) => j.id === btn.dataset.job);
      const to = btn.dataset.move === "up" ? from - 1 : from + 1;
      if (await move(btn.dataset.job, to)) renderQueued([btn.dataset.job, btn.dataset.move]);
      return;
    }
    if (btn.dataset.action === "cancel") {
      btn.disabled = true;
      if (await act(`/api/v1/jobs/${enc(btn.dataset.job)}/cancel`, t("Cancel requested"))) { await poll(); await refreshHistory(); }
      btn.disabled = false;
    } else if (btn.dataset.action === "retry") {
      btn.disabled = true;
      if (await act(`/api/v1/jobs/${enc(btn.dataset.job)}/retry`, t("Queued again"))) { await poll(); await refreshHistory(); }
      btn.disabled = false;
    } else if (btn.id === "btn-pause" || btn.id === "btn-resume") {
      const paused = btn.id === "btn-pause";
      const state = await act(`/api/v1/queue/${paused ? "pause" : "resume"}`, paused ? t("Queue paused") : t("Queue resumed"));
      if (state) {
        live.queue = state;
        renderState();
        document.getElementById(paused ? "btn-resume" : "btn-pause")?.focus();
      }
    }
  });

  // drag and drop (the mouse); the buttons above are the keyboard's way
  queuedEl.addEventListener("dragstart", (e) => {
    const li = e.target.closest("li[draggable]");
    if (!li) return;
    dragging = li.dataset.jobId;
    li.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragging);
  });
  queuedEl.addEventListener("dragover", (e) => {
    if (!dragging) return;
    e.preventDefault();
    const over = e.target.closest("li");
    for (const li of queuedEl.querySelectorAll(".drop-before, .drop-after")) li.classList.remove("drop-before", "drop-after");
    if (!over || over.dataset.jobId === dragging) return;
    const r = over.getBoundingClientRect();
    over.classList.add(e.clientY < r.top + r.height / 2 ? "drop-before" : "drop-after");
  });
  queuedEl.addEventListener("dragleave", (e) => {
    if (!queuedEl.contains(e.relatedTarget)) for (const li of queuedEl.querySelectorAll(".drop-before, .drop-after")) li.classList.remove("drop-before", "drop-after");
  });
  queuedEl.addEventListener("drop", async (e) => {
    if (!dragging) return;
    e.preventDefault();
    const id = dragging;
    const over = e.target.closest("li");
    let to = live.queued.length - 1;
    if (over && over.dataset.jobId !== id) {
      const r = over.getBoundingClientRect();
      const idx = live.queued.findIndex((j) => j.id === over.dataset.jobId);
      const from = live.queued.findIndex((j) => j.id === id);
      to = e.clientY < r.top + r.height / 2 ? idx : idx + 1;
      if (from < to) to -= 1;
    } else if (over) {
      to = live.queued.findIndex((j) => j.id === id);
    }
    dragging = null;
    await move(id, to);
    renderQueued();
  });
  queuedEl.addEventListener("dragend", () => {
    dragging = null;
    for (const li of queuedEl.querySelectorAll(".dragging, .drop-before, .drop-after")) li.classList.remove("dragging", "drop-before", "drop-after");
  });

  // the history filter applies as soon as it changes
  document.addEventListener("change", (e) => {
    if (e.target.id === "history-status") e.target.form.requestSubmit();
  });

  renderState();
  renderRunning();
  renderQueued();
  setInterval(poll, 2000);
  // "waiting…" and "running for…" move on between polls
  setInterval(() => { if (!busy && !dragging) renderRunning(); }, 1000);
}

// ================================================================================================
// One job
// ================================================================================================
function wireJob(job) {
  let status = job.status;
  let source = null;
  let lastLog = 0;
  const logEl = document.getElementById("log");
  const follow = document.getElementById("log-follow");
  const MAX_LINES = 2000;
  let lineCount = 0;

  // -- progress --------------------------------------------------------------------------------
  const bar = document.getElementById("job-progress");
  function setStatus(s) {
    status = s;
    const holder = document.getElementById("job-status");
    holder.replaceChildren(badge(s));
    bar.querySelector(".progress-bar").className = `progress-bar status-bar-${s}`;
    const cancel = document.getElementById("btn-cancel");
    const retry = document.getElementById("btn-retry");
    if (cancel) cancel.hidden = FINAL.has(s);
    if (retry) retry.hidden = !(s === "failed" || s === "cancelled");
  }
  function setProgress(p) {
    const pct = updateBar(bar, p.done, p.total, p.status);
    document.getElementById("job-pct").textContent = `${Math.round(pct)}%`;
    document.getElementById("job-msg").textContent = p.message || "";
    document.getElementById("job-steps").textContent = p.total ? `${Math.round(p.done)} / ${Math.round(p.total)}` : "";
    if (p.status && p.status !== status) setStatus(p.status);
  }
  const elapsed = document.getElementById("job-elapsed");
  let started = parseFloat(elapsed.dataset.started) || null;
  let finishedAt = parseFloat(elapsed.dataset.finished) || null;
  function tick() {
    if (!started) { elapsed.textContent = ""; return; }
    elapsed.textContent = finishedAt
      ? fmt(t("took %(t)s"), { t: duration(finishedAt - started) })
      : fmt(t("running for %(t)s"), { t: duration(Date.now() / 1000 - started) });
  }
  tick();
  const ticker = setInterval(tick, 1000);

  // -- log tail ----------------------------------------------------------------------------------
  function addLines(lines) {
    if (!lines.length) return;
    const atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 24;
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      if (line.id <= lastLog) continue;
      lastLog = line.id;
      const time = new Date(line.ts * 1000).toLocaleTimeString([], { hour12: false });
      const row = el("span", { class: `log-line level-${(line.level || "info").toLowerCase()}` },
        el("span", { class: "log-ts", text: time }), " ", line.message, "\n");
      frag.append(row);
      lineCount += 1;
    }
    logEl.append(frag);
    while (logEl.childElementCount > MAX_LINES) logEl.firstElementChild.remove();
    document.getElementById("log-count").textContent = fmt(t("%(n)s lines"), { n: lineCount });
    if (follow.checked && (atBottom || lineCount <= lines.length)) logEl.scrollTop = logEl.scrollHeight;
  }
  follow.addEventListener("change", () => { if (follow.checked) logEl.scrollTop = logEl.scrollHeight; });

  // -- metrics -----------------------------------------------------------------------------------
  const plots = new Map();
  const grid = document.getElementById("metrics");
  function plotFor(name) {
    let plot = plots.get(name);
    if (plot) return plot;
    const color = PALETTE[plots.size % PALETTE.length];
    const canvas = el("canvas", { class: "metric-canvas", role: "img", "data-metric": name, "data-points": "0" });
    const last = el("span", { class: "metric-last mono" });
    const fig = el("figure", { class: "metric", "data-metric": name },
      el("figcaption", {}, el("span", { class: "swatch", style: `background: ${color}`, "aria-hidden": "true" }),
        el("span", { class: "metric-name mono", text: name }), last),
      canvas);
    // keep the charts in name order (loss_d next to loss_g)
    const after = [...grid.children].find((f) => f.dataset.metric > name);
    grid.insertBefore(fig, after || null);
    plot = new LinePlot(canvas, {
      name, color, xLabel: t("step"),
      describe: (n, v) => `${name}: ${fmt(t("%(n)s points"), { n })}${v === null ? "" : `, ${t("last")} ${v.toPrecision(4)}`}`,
    });
    plot.lastEl = last;
    plots.set(name, plot);
    document.getElementById("metrics-empty").hidden = true;
    return plot;
  }
  function metricsChanged() {
    let total = 0;
    for (const p of plots.values()) {
      total += p.count;
      if (p.count) p.lastEl.textContent = `${t("Step %(n)s").replace("%(n)s", p.xs[p.count - 1])} · ${Number(p.ys[p.count - 1]).toPrecision(4)}`;
    }
    grid.dataset.points = String(total);
    document.getElementById("metrics-count").textContent = plots.size ? fmt(t("%(n)s points"), { n: total }) : "";
  }

  // -- training samples (assets tagged training-sample, newest first) -----------------------------
  const shown = new Set();
  const strip = document.getElementById("samples");
  const latest = document.getElementById("sample-latest");
  let samplesTimer = null;
  let sampleCount = 0;
  async function pollSamples() {
    const q = new URLSearchParams({ job: job.id, tag: "training-sample", sort: "created_at", order: "desc", limit: "12" });
    let page;
    try { page = await api(`/api/v1/projects/${enc(job.project)}/assets?${q}`); } catch { return; }
    const fresh = page.items.filter((a) => !shown.has(a.id)).reverse(); // oldest first
    if (!fresh.length) return;
    for (const a of fresh) {
      shown.add(a.id);
      sampleCount += 1;
      const step = a.meta && a.meta.generation && a.meta.generation.step;
      const label = step !== undefined ? fmt(t("Sample grid at step %(n)s"), { n: step }) : a.name;
      const li = el("li", { class: "sample", "data-asset-id": a.id, "data-step": step ?? "" },
        el("a", { href: `/assets/${enc(a.id)}` },
          el("img", { src: `/api/v1/assets/${enc(a.id)}/content`, alt: label, loading: "lazy", decoding: "async" })),
        el("span", { class: "small muted mono", text: step !== undefined ? `${t("step")} ${step}` : a.name }));
      strip.prepend(li);
    }
    while (strip.children.length > 12) strip.lastElementChild.remove();
    const top = strip.firstElementChild;
    const img = top.querySelector("img");
    latest.replaceChildren(
      el("a", { href: top.querySelector("a").href },
        el("img", { src: img.src, alt: img.alt, class: "pixelated" })),
      el("figcaption", { class: "small muted" }, img.alt, " · ", t("latest")));
    document.getElementById("samples-panel").hidden = false;
    document.getElementById("samples-count").textContent = fmt(t("%(n)s grids"), { n: sampleCount });
  }

  // -- what is there already, then live -----------------------------------------------------------
  async function initial() {
    try {
      let after = 0;
      for (let i = 0; i < 50; i++) { // the first 50,000 lines; the tail keeps the last 2,000
        const page = await api(`/api/v1/jobs/${enc(job.id)}/logs?after=${after}&limit=1000`);
        addLines(page.items);
        if (!page.next_after) break;
        after = page.next_after;
      }
      const m = await api(`/api/v1/jobs/${enc(job.id)}/metrics`);
      for (const name of Object.keys(m.series).sort()) plotFor(name).set(m.series[name].map((p) => [p.step, p.value]));
      metricsChanged();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    await pollSamples();
  }

  async function ended(finalJob) {
    setStatus(finalJob.status);
    setProgress({ done: finalJob.progress_done, total: finalJob.progress_total, message: finalJob.progress_message, status: finalJob.status });
    started = finalJob.started_at || started;
    finishedAt = finalJob.finished_at || Date.now() / 1000;
    tick();
    clearInterval(samplesTimer);
    await pollSamples();
    // The record's panels as the server renders them now (result, outputs, error, timings).
    for (const [id, part] of [["job-details", "details"], ["job-outputs", "outputs"]]) {
      try {
        const res = await fetch(`/jobs/${enc(job.id)}/summary?part=${part}`, { credentials: "same-origin" });
        if (res.ok) document.getElementById(id).innerHTML = await res.text();
      } catch { /* keep what is shown */ }
    }
  }

  function listen() {
    source = new EventSource(`/api/v1/jobs/${enc(job.id)}/events?after=${lastLog}`);
    source.addEventListener("progress", (e) => {
      const p = JSON.parse(e.data);
      if (p.status === "running" && !started) started = Date.now() / 1000;
      setProgress(p);
    });
    source.addEventListener("log", (e) => addLines([JSON.parse(e.data)]));
    source.addEventListener("metric", (e) => {
      const m = JSON.parse(e.data);
      plotFor(m.name).add(m.step, m.value);
      metricsChanged();
    });
    source.addEventListener("end", (e) => {
      source.close();
      source = null;
      ended(JSON.parse(e.data));
    });
    samplesTimer = setInterval(pollSamples, 3000);
  }

  // -- buttons -------------------------------------------------------------------------------------
  document.getElementById("btn-cancel")?.addEventListener("click", async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    const out = await act(`/api/v1/jobs/${enc(job.id)}/cancel`, t("Cancel requested"));
    btn.disabled = false;
    if (out && FINAL.has(out.status) && !source) ended(out);
  });
  document.getElementById("btn-retry")?.addEventListener("click", async () => {
    const out = await act(`/api/v1/jobs/${enc(job.id)}/retry`, t("Queued again"));
    if (out) location.reload(); // a fresh page follows the new attempt
  });

  initial().then(() => {
    if (!job.finished) listen();
    else {
      clearInterval(ticker);
      // A finished job that recorded no metrics needs no empty chart panel.
      if (!plots.size) document.getElementById("h-metrics").closest("section").hidden = true;
    }
  });
}

const queueCfg = data("queue-data");
if (queueCfg) wireQueue(queueCfg);
const jobCfg = data("job-data");
if (jobCfg) wireJob(jobCfg);
