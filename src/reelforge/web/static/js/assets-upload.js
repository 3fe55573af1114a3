// Upload onto the asset browser: drop files and folders anywhere on the page, or pick them. Each
// file is one POST /api/v1/projects/{p}/assets (XMLHttpRequest, for its upload progress), at most
// three in flight; a folder's files are named by their path inside it (plates/a.png). At the end:
// how many were added, how many the project already had, and every refused file with the API's
// one-line reason (a refused file leaves nothing behind: the API checks before it keeps anything).
import { csrf, data, t } from "/static/js/app.js";

const cfg = data("assets-page") || {};
const IN_FLIGHT = 3;
const panel = document.getElementById("upload");
const toggle = document.getElementById("upload-toggle");
const zone = document.getElementById("drop-zone");
const list = document.getElementById("upload-list");
const fmt = (s, vals) => t(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));

const queue = [];
const all = [];
let running = 0;

function sizeText(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

function open(show = true) {
  if (!panel) return;
  panel.hidden = !show;
  toggle?.setAttribute("aria-expanded", String(show));
}

function row(item) {
  const li = document.createElement("li");
  li.className = "ab-file queued";
  li.dataset.name = item.name;
  const name = Object.assign(document.createElement("span"), { className: "ab-fname", textContent: item.name, title: item.name });
  const size = Object.assign(document.createElement("span"), { className: "ab-fsize", textContent: sizeText(item.file ? item.file.size : 0) });
  const bar = document.createElement("div");
  bar.className = "progress";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", item.name);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", "0");
  const fill = Object.assign(document.createElement("div"), { className: "progress-bar" });
  fill.style.width = "0%";
  bar.append(fill);
  const state = Object.assign(document.createElement("span"), { className: "ab-fstate", textContent: t("Queued") });
  li.append(name, size, bar, state);
  item.li = li;
  item.fill = fill;
  item.bar = bar;
  item.stateEl = state;
  return li;
}

function setState(item, cls, text, pct) {
  item.state = cls;
  item.li.className = `ab-file ${cls}`;
  item.stateEl.textContent = text;
  item.stateEl.title = text;
  if (pct !== undefined) {
    item.fill.style.width = `${pct}%`;
    item.bar.setAttribute("aria-valuenow", String(Math.round(pct)));
  }
}

function summary() {
  const count = (s) => all.filter((i) => i.state === s).length;
  const added = count("added"), dups = count("duplicate"), refused = all.filter((i) => i.state === "refused");
  const done = all.filter((i) => ["added", "duplicate", "refused", "skipped"].includes(i.state)).length;
  const total = all.length;
  const bytes = all.reduce((s, i) => s + (i.file ? i.file.size : 0), 0) || 1;
  const sent = all.reduce((s, i) => s + (i.sent || 0), 0);
  const bar = document.getElementById("upload-total-bar");
  bar.style.width = `${Math.min(100, (100 * sent) / bytes)}%`;
  bar.parentElement.setAttribute("aria-valuenow", String(Math.round((100 * sent) / bytes)));
  const el = document.getElementById("upload-summary");
  const finished = done === total;
  el.textContent = finished
    ? fmt("{added} added · {dups} already in the project · {refused} refused", { added, dups, refused: refused.length })
    : fmt("Uploading {done} of {total}…", { done: done + 1 > total ? total : done + 1, total });
  el.classList.toggle("done", finished && !refused.length);
  el.classList.toggle("warn", finished && refused.length > 0);
  document.getElementById("upload-results").dataset.finished = String(finished);
  document.getElementById("upload-show").hidden = !(finished && added > 0);
  const box = document.getElementById("upload-refused");
  box.hidden = refused.length === 0;
  document.getElementById("upload-refused-title").textContent = fmt("{n} files refused", { n: refused.length });
  document.getElementById("upload-refused-list").replaceChildren(...refused.map((i) => {
    const li = document.createElement("li");
    li.dataset.name = i.name;
    li.append(Object.assign(document.createElement("span"), { className: "mono", textContent: i.name }), `: ${i.reason}`);
    return li;
  }));
}

function send(item) {
  running++;
  setState(item, "uploading", t("Uploading"), 0);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/v1/projects/${encodeURIComponent(cfg.project)}/assets`);
  xhr.setRequestHeader("X-CSRF-Token", csrf());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    item.sent = (item.file.size * e.loaded) / e.total;
    setState(item, "uploading", `${t("Uploading")} ${Math.round((100 * e.loaded) / e.total)}%`, (95 * e.loaded) / e.total);
    summary();
  });
  const finish = (state, text) => {
    item.sent = item.file.size;
    setState(item, state, text, 100);
    running--;
    summary();
    pump();
  };
  xhr.addEventListener("load", () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: say the status */ }
    if (xhr.status === 201) finish("added", t("Added"));
    else if (xhr.status === 200) finish("duplicate", t("Duplicate"));
    else {
      let reason = body && body.error ? body.error.message : `${xhr.status} ${xhr.statusText}`;
      // "name: why" from the API: the row already shows the name
      for (const prefix of [`${item.name}: `, `${item.file.name}: `]) if (reason.startsWith(prefix)) reason = reason.slice(prefix.length);
      item.reason = reason;
      finish("refused", `${t("Refused")}: ${item.reason}`);
    }
  });
  xhr.addEventListener("error", () => { item.reason = t("Network error"); finish("refused", `${t("Refused")}: ${item.reason}`); });
  const form = new FormData();
  form.append("file", item.file, item.file.name);
  form.append("name", item.name);
  const tags = document.getElementById("upload-tags").value.trim();
  if (tags) form.append("tags", tags);
  xhr.send(form);
}

function pump() {
  while (running < IN_FLIGHT && queue.length) send(queue.shift());
}

function enqueue(items) {
  if (!items.length) return;
  open(true);
  document.getElementById("upload-results").hidden = false;
  for (const item of items) {
    all.push(item);
    list.append(row(item));
    // Hidden files (.DS_Store, ._x, .git/...) are the file system's, not the user's work.
    if (item.name.split("/").some((part) => part.startsWith("."))) setState(item, "skipped", t("Skipped (hidden file)"), 0);
    else queue.push(item);
  }
  summary();
  pump();
}

// A dropped folder arrives as a FileSystemDirectoryEntry: walk it (readEntries answers in batches).
function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readBatch(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry, out) {
  if (entry.isFile) {
    out.push({ file: await fileOf(entry), name: entry.fullPath.replace(/^\/+/, "") });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await readBatch(reader);
      if (!batch.length) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

async function dropped(dt) {
  const entries = [...dt.items].filter((i) => i.kind === "file").map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  const out = [];
  if (entries.length && entries.every(Boolean)) {
    for (const e of entries) await walk(e, out);
  } else {
    for (const f of dt.files) out.push({ file: f, name: f.name });
  }
  out.sort((a, b) => a.name.localeCompare(b.name));
  enqueue(out);
}

function wire() {
  if (!panel) return;
  toggle?.addEventListener("click", () => open(panel.hidden));
  if (location.hash === "#upload" || !document.getElementById("asset-grid")) open(true);
  document.getElementById("file-input").addEventListener("change", (e) => {
    enqueue([...e.target.files].map((f) => ({ file: f, name: f.name })));
    e.target.value = "";
  });
  document.getElementById("folder-input").addEventListener("change", (e) => {
    const files = [...e.target.files].map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));
    files.sort((a, b) => a.name.localeCompare(b.name));
    enqueue(files);
    e.target.value = "";
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); document.getElementById("file-input").click(); }
  });
  // The whole page is a drop target; only drags that carry files count.
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    depth++;
    document.body.classList.add("ab-dragging");
  });
  document.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove("ab-dragging");
  });
  document.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("ab-dragging");
    dropped(e.dataTransfer);
  });
}

wire();
