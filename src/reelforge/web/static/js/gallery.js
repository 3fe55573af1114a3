// The gallery of generated work, boards and the exhibitions list (one module: they share the
// provenance dialog, the board actions and the share-link dialog). Every change goes through the
// REST API with the session's CSRF token (api() of app.js).
import { api, data, el, t, toast } from "/static/js/app.js";

const page = data("gallery-data") || { project: "", cards: [], can_write: false, boards: [] };
const cards = new Map(page.cards.map((c) => [c.id, c]));
const fmt = (s, values) => t(s).replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const projectPath = encodeURIComponent(page.project);

function fail(e) {
  toast(e && e.message ? e.message : t("Failed"), { error: true });
}

// -- shared: dialogs, copy buttons -------------------------------------------------------------
for (const d of $$("dialog.rf-dialog")) {
  for (const b of $$("[data-close]", d)) b.addEventListener("click", () => d.close());
  // A click on the backdrop (outside the dialog's box) closes it.
  d.addEventListener("click", (e) => { if (e.target === d) d.close(); });
}

async function copyFrom(input) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    document.execCommand("copy");  // older browsers, or no clipboard permission
  }
  toast(t("Link copied"));
}
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-copy]");
  if (b) copyFrom($(b.dataset.copy));
});

function showLink(dialog, share) {
  $("#share-url", dialog).value = share.url;
  $("#share-open", dialog).href = share.path;
}

// -- the provenance dialog ---------------------------------------------------------------------
const prov = $("#prov-dialog");
let current = null;

function modelLabel(p) {
  if (p.model && p.model.name) return p.model.version ? `${p.model.name} v${p.model.version}` : p.model.name;
  return p.task || "";
}

function kvRows(list, rows) {
  list.replaceChildren();
  for (const [label, value, href] of rows) {
    if (value === undefined || value === null || value === "") continue;
    const v = href ? el("a", { href }, String(value)) : String(value);
    list.append(el("dt", {}, t(label)), el("dd", {}, v));
  }
}

function openProv(id) {
  const c = cards.get(id);
  if (!c || !prov) return;
  current = id;
  const p = c.prov || {};
  const media = $("#prov-media");
  media.replaceChildren(c.kind === "video"
    ? el("video", { src: c.content, controls: true, autoplay: true, muted: true, loop: true, playsinline: true,
                    "aria-label": c.name })
    : el("img", { src: c.content, alt: c.name, class: (c.width || 999) < 128 ? "pixel" : "" }));
  const v = $("video", media);
  if (v) v.muted = true;  // the attribute alone is not enough for autoplay everywhere
  if (c.kind !== "video" && c.width && c.width < 128) {
    // Real pixels at a whole zoom factor (up to 12x), as a retoucher would inspect them.
    const zoom = Math.max(1, Math.min(12, Math.floor(560 / Math.max(c.width, c.height || c.width))));
    const img = $("img", media);
    img.style.width = `${c.width * zoom}px`;
    img.style.height = "auto";
    media.append(el("span", { class: "zoom-note mono" }, `${c.width} × ${c.height} · ${zoom * 100}%`));
  }
  $("#prov-title").textContent = modelLabel(p) || c.name;
  $("#prov-name").textContent = c.name;
  kvRows($("#prov-kv"), [
    ["Model", p.model && p.model.ref, p.model && p.model.id ? `/models/${p.model.id}` : null],
    ["Seed", p.seed],
    ["Class", p.class_name],
    ["Prompt", p.prompt],
    ["Truncation", p.truncation],
    ["Index in batch", p.index],
    ["Step", p.step],
    ["Keyframe seeds", p.seeds && p.seeds.join(" → ")],
    ["Frames", p.frames && p.fps ? `${p.frames} @ ${p.fps} fps` : null],
    ["Task", p.task],
    ["Job seed", p.job_seed !== p.seed ? p.job_seed : null],
    ["Dataset", p.dataset && p.dataset.ref, p.dataset && p.dataset.id ? `/datasets/${p.dataset.id}` : null],
    ["Job", p.job_id, p.job_id ? `/jobs/${p.job_id}` : null],
    ["Size", c.width && c.height ? `${c.width} × ${c.height}` : null],
    ["Made", c.created_at ? new Date(c.created_at * 1000).toLocaleString() : null],
    ["Source type", p.source_type],
  ]);
  $("#prov-params").textContent = p.params && Object.keys(p.params).length
    ? JSON.stringify(p.params, null, 2) : t("no parameters");
  const links = c.links || {};
  for (const [key, sel] of [["again", "#prov-again"], ["vary", "#prov-vary"], ["recreate", "#prov-recreate"]]) {
    const a = $(sel);
    if (!a) continue;
    a.hidden = !links[key];
    if (links[key]) a.href = links[key];
  }
  $("#prov-asset").href = `/assets/${c.id}`;
  $("#prov-job").hidden = !p.job_id;
  if (p.job_id) $("#prov-job").href = `/jobs/${p.job_id}`;
  $("#prov-lineage").href = `/assets/${c.id}#lineage`;
  $("#prov-download").href = c.content;
  const row = $("#prov-board-row");
  if (row) {
    const options = $$("#bulk-board option").map((o) => [o.value, o.textContent]);
    row.hidden = options.length === 0;
    $("#prov-board").replaceChildren(...options.map(([v, label]) => el("option", { value: v }, label)));
  }
  if (!prov.open) prov.showModal();
}

function step(delta) {
  const ids = $$("[data-open]").map((b) => b.dataset.open);
  const i = ids.indexOf(current);
  if (i < 0 || ids.length < 2) return;
  openProv(ids[(i + delta + ids.length) % ids.length]);
}

if (prov) {
  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-open]");
    if (b) openProv(b.dataset.open);
  });
  $("#prov-prev").addEventListener("click", () => step(-1));
  $("#prov-next").addEventListener("click", () => step(1));
  prov.addEventListener("keydown", (e) => {
    if (e.target.closest("select, input, textarea")) return;
    if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  });
  prov.addEventListener("close", () => {
    const v = $("#prov-media video");
    if (v) v.pause();
    const back = current && $(`[data-open="${CSS.escape(current)}"]`);
    if (back) back.focus();
  });
  const add = $("#prov-add");
  if (add) add.addEventListener("click", () => addToBoard($("#prov-board").value, [current]));
}

async function addToBoard(boardId, ids) {
  if (!boardId) { toast(t("Create a board first"), { error: true }); return; }
  try {
    await api(`boards/${encodeURIComponent(boardId)}/items`, { method: "POST", body: { asset_ids: ids } });
  } catch (e) { fail(e); return; }
  for (const id of ids) {
    const card = $(`.gen-card[data-asset-id="${CSS.escape(id)}"] .gen-open`);
    if (card && !$(".on-board", card)) card.append(el("span", { class: "on-board", "aria-hidden": "true" }, "◆"));
  }
  toast(t("Added to the board"));
}

// -- the gallery: filters, selection, boards ---------------------------------------------------
for (const form of $$("form[data-rf-autosubmit]")) {
  for (const c of $$("select, input", form)) c.addEventListener("change", () => form.requestSubmit());
}

const bulkbar = $("#bulkbar");
function selected() { return $$(".gen-card .select:checked").map((c) => c.value); }
function syncSelection() {
  const ids = selected();
  for (const c of $$(".gen-card")) c.classList.toggle("selected", ids.includes(c.dataset.assetId));
  if (!bulkbar) return;
  bulkbar.hidden = ids.length === 0;
  $("#bulk-count").textContent = fmt("%(n)s selected", { n: ids.length });
}
document.addEventListener("change", (e) => { if (e.target.matches(".gen-card .select")) syncSelection(); });
if (bulkbar) {
  $("#bulk-add").addEventListener("click", async () => {
    await addToBoard($("#bulk-board").value, selected());
    for (const c of $$(".gen-card .select:checked")) c.checked = false;
    syncSelection();
  });
  $("#bulk-clear").addEventListener("click", () => {
    for (const c of $$(".gen-card .select:checked")) c.checked = false;
    syncSelection();
  });
}

const newBoard = $("#new-board");
if (newBoard) {
  newBoard.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#new-board-name").value.trim();
    if (!name) return;
    // A new board takes the current selection with it.
    try {
      const b = await api(`projects/${projectPath}/boards`, { method: "POST", body: { name, asset_ids: selected() } });
      toast(t("Board created"));
      location.assign(`/boards/${b.id}`);
    } catch (err) { fail(err); }
  });
}

// -- settings from a dropped (or chosen) PNG ---------------------------------------------------
const pngDialog = $("#png-dialog");
let previewUrl = null;

function runUrl(task, params, seed) {
  const q = new URLSearchParams({ params: JSON.stringify(params || {}) });
  if (seed !== undefined && seed !== null) q.set("seed", String(seed));
  return `/p/${projectPath}/run/${encodeURIComponent(task)}?${q}`;
}

async function loadPng(file) {
  if (!file) return;
  if (!(file.type === "image/png" || /\.png$/i.test(file.name))) {
    toast(t("Only PNG files carry settings."), { error: true });
    return;
  }
  toast(t("Reading the PNG…"), { ms: 1500 });
  const body = new FormData();
  body.append("file", file, file.name || "dropped.png");
  let v;
  try {
    v = await api(`projects/${projectPath}/provenance`, { method: "POST", body });
  } catch (e) { fail(e); return; }
  showPng(file, v);
}

function showPng(file, v) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  $("#png-preview").src = previewUrl;
  $("#png-file").textContent = `${file.name} · ${v.sha256.slice(0, 12)}…`;
  const rec = v.record;
  const status = $("#png-status");
  const problems = $("#png-problems");
  problems.replaceChildren();
  status.className = "png-status";
  if (!rec) {
    status.textContent = t("This PNG carries no reelforge settings.");
    status.classList.add("bad");
  } else if (v.verified) {
    status.textContent = "✓ " + t("Verified: this file matches the catalog.");
    status.classList.add("good");
  } else {
    status.textContent = t("Read from the file (not verified against this project):");
    status.classList.add("warn");
    for (const p of v.problems || []) problems.append(el("li", {}, p));
  }
  const r = rec || {};
  const inProject = Boolean(v.asset_id);
  kvRows($("#png-kv"), [
    ["Task", r.task],
    ["Model", r.model_ref || r.model],
    ["Seed", r.seed],
    ["Image", r.latent_seed !== undefined && r.latent_seed !== r.seed ? `seed ${r.latent_seed}` : null],
    ["Class", r.class_name],
    ["Prompt", r.prompt],
    ["Truncation", r.truncation],
    ["Step", r.step],
    ["Job", r.job_id, inProject && r.job_id ? `/jobs/${r.job_id}` : null],
    ["Made", r.created_at ? new Date(r.created_at * 1000).toLocaleString() : null],
    ["Source type", r.digital_source_type],
  ]);
  $("#png-params").textContent = r.params ? JSON.stringify(r.params, null, 2) : t("no parameters");
  const again = $("#png-again"), vary = $("#png-vary"), recreate = $("#png-recreate");
  const runnable = Boolean(r.task && r.params);
  if (again) {
    again.hidden = vary.hidden = !runnable;
    if (runnable) {
      again.href = runUrl(r.task, r.params, r.seed);
      vary.href = runUrl(r.task, r.params, "random");
    }
    const one = runnable && r.task === "gan.sample" && r.latent_seed !== undefined && r.index !== undefined;
    recreate.hidden = !one;
    if (one) recreate.href = runUrl(r.task, { ...r.params, n: 1, sheet: false }, r.latent_seed);
  }
  const job = $("#png-job");
  job.hidden = !(inProject && r.job_id);
  if (!job.hidden) job.href = `/jobs/${r.job_id}`;
  if (!pngDialog.open) pngDialog.showModal();
}

if (pngDialog) {
  const input = $("#png-input");
  $("#png-open").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { loadPng(input.files[0]); input.value = ""; });

  const overlay = $("#drop-overlay");
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    loadPng(e.dataTransfer.files[0]);
  });
}

// -- a board: reorder, remove, rename, delete, publish -----------------------------------------
const grid = $("#board-grid");
const boardId = page.board;

function renumber() {
  const items = $$(".board-item", grid);
  items.forEach((li, i) => {
    $(".pos", li).textContent = String(i + 1);
    // The ends cannot move further: their buttons say so (and keep their place for the eye).
    for (const b of $$("[data-move]", li)) b.disabled = (b.dataset.move === "-1" && i === 0) || (b.dataset.move === "1" && i === items.length - 1);
  });
  const n = $("#board-count");
  if (n) n.textContent = String(items.length);
}
async function saveOrder(before) {
  const order = $$(".board-item", grid).map((li) => li.dataset.assetId);
  if (before && order.join() === before.join()) return;
  renumber();
  try {
    await api(`boards/${encodeURIComponent(boardId)}`, { method: "PATCH", body: { order } });
    toast(t("Order saved"), { ms: 1500 });
  } catch (e) { fail(e); setTimeout(() => location.reload(), 1200); }
}

if (grid && grid.hasAttribute("data-editable")) {
  renumber();
  const status = $("#order-status");
  grid.addEventListener("click", async (e) => {
    const li = e.target.closest(".board-item");
    if (!li) return;
    const move = e.target.closest("[data-move]");
    if (move) {
      const delta = Number(move.dataset.move);
      const sibling = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
      if (!sibling) return;
      if (delta < 0) sibling.before(li); else sibling.after(li);
      const pos = $$(".board-item", grid).indexOf(li) + 1;
      status.textContent = fmt("Moved to position %(n)s", { n: pos });
      await saveOrder();
      // The moved item keeps the keyboard focus (on its other arrow once it reached an end).
      (move.disabled ? $(`[data-move="${-delta}"]`, li) : move).focus();
      return;
    }
    if (e.target.closest("[data-remove]")) {
      try {
        await api(`boards/${encodeURIComponent(boardId)}/items/${encodeURIComponent(li.dataset.assetId)}`,
                  { method: "DELETE" });
      } catch (err) { fail(err); return; }
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      renumber();
      toast(t("Removed"));
      if (next) $("[data-remove]", next).focus();
    }
  });
  // Drag to reorder: the dragged item moves live under the pointer; dropped, the order is saved.
  let dragged = null, before = null;
  grid.addEventListener("dragstart", (e) => {
    const li = e.target.closest(".board-item");
    if (!li) return;
    dragged = li;
    before = $$(".board-item", grid).map((x) => x.dataset.assetId);
    li.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", li.dataset.assetId);
  });
  grid.addEventListener("dragover", (e) => {
    if (!dragged) return;
    e.preventDefault();
    const over = e.target.closest(".board-item");
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    if (e.clientX < box.left + box.width / 2) over.before(dragged); else over.after(dragged);
  });
  grid.addEventListener("drop", (e) => { if (dragged) e.preventDefault(); });
  grid.addEventListener("dragend", async () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    await saveOrder(before);
  });
}

const renameForm = $("#rename-form");
if (renameForm) {
  $("#rename-open").addEventListener("click", () => { renameForm.hidden = false; $("#rename-name").focus(); });
  $("#rename-cancel").addEventListener("click", () => { renameForm.hidden = true; });
  renameForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const b = await api(`boards/${encodeURIComponent(boardId)}`, { method: "PATCH",
        body: { name: $("#rename-name").value, description: $("#rename-desc").value } });
      $("#board-name").textContent = b.name;
      renameForm.hidden = true;
      toast(t("Renamed"));
    } catch (err) { fail(err); }
  });
  $("#board-delete").addEventListener("click", async () => {
    if (!confirm(t("Delete this board? Its exhibitions end too."))) return;
    try {
      await api(`boards/${encodeURIComponent(boardId)}`, { method: "DELETE" });
      location.assign(`/p/${projectPath}/gallery`);
    } catch (err) { fail(err); }
  });
}

// Publishing: from a board (its dialog) or from the exhibitions page (a board picked in a form).
const publishForm = $("#publish-form");
if (publishForm) {
  const dialog = $("#publish-dialog");
  const opener = $("#publish-open");
  if (opener) opener.addEventListener("click", () => {
    publishForm.hidden = false;
    $("#publish-result").hidden = true;
    dialog.showModal();
  });
  const pick = $("#pub-board");
  if (pick) pick.addEventListener("change", () => { $("#pub-title").value = pick.selectedOptions[0].dataset.name; });
  publishForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#publish-error");
    error.hidden = true;
    const target = publishForm.dataset.boardId || (pick && pick.value);
    const days = $("#pub-expiry").value;
    const body = { title: $("#pub-title").value, expires_in_days: days ? Number(days) : null };
    let share;
    try {
      share = await api(`boards/${encodeURIComponent(target)}/exhibitions`, { method: "POST", body });
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    toast(t("Published"));
    if (dialog) {
      publishForm.hidden = true;
      showLink(dialog, share);
      $("#publish-result").hidden = false;
      $("#share-url", dialog).focus();
      dialog.addEventListener("close", () => location.reload(), { once: true });
    } else {
      const links = $("#link-dialog");
      showLink(links, share);
      links.addEventListener("close", () => location.reload(), { once: true });
      links.showModal();
    }
  });
}

// -- the exhibitions list: new link, revoke ----------------------------------------------------
const table = $("#ex-table");
if (table) {
  table.addEventListener("click", async (e) => {
    const row = e.target.closest("tr[data-exhibition-id]");
    if (!row) return;
    const id = encodeURIComponent(row.dataset.exhibitionId);
    if (e.target.closest("[data-relink]")) {
      if (!confirm(t("Make a new link? The current link stops working."))) return;
      let share;
      try { share = await api(`exhibitions/${id}/link`, { method: "POST" }); } catch (err) { fail(err); return; }
      // Known in this view from now on: copy and open it from the row as well.
      const slot = $("[data-link-slot]", row);
      const input = el("input", { class: "visually-hidden", readonly: true, value: share.url,
                                  "aria-label": t("Share link"), id: `url-${row.dataset.exhibitionId}` });
      slot.replaceChildren(input,
        el("button", { type: "button", class: "btn small primary", "data-copy": `#url-${CSS.escape(row.dataset.exhibitionId)}` }, t("Copy link")),
        el("a", { class: "btn small", href: share.path, target: "_blank", rel: "noopener noreferrer" }, t("Open")));
      const links = $("#link-dialog");
      showLink(links, share);
      links.showModal();
    }
    if (e.target.closest("[data-revoke]")) {
      if (!confirm(t("Revoke this exhibition? Its link stops working at once."))) return;
      try { await api(`exhibitions/${id}`, { method: "DELETE" }); } catch (err) { fail(err); return; }
      row.dataset.status = "revoked";
      const badge = $("[data-status-badge]", row);
      badge.className = "badge ex-revoked";
      badge.textContent = t("revoked");
      $(".ex-actions", row).replaceChildren();
      toast(t("Revoked"));
    }
  });
}
