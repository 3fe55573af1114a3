// Run a task: the catalogue's filter, and the launcher generated from the task's JSON Schema.
// The form is rendered by the server (pages/run.py); each parameter's control carries its kind in
// data-control (integer number checkbox select text json dataset model asset assets), and this
// script reads them back into the job's params, then submits through the API. Values are sent as
// the JSON text typed (integers and JSON fields keep their digits: a 63-bit seed survives).
import { api, ApiError, t, el } from "/static/js/app.js";

const fmt = (s, vals) => s.replace(/%\((\w+)\)s/g, (_, k) => String(vals[k]));

// -- the catalogue: filter cards as you type ------------------------------------------------------
function wireFilter() {
  const input = document.getElementById("task-filter");
  if (!input) return;
  const apply = () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    for (const section of document.querySelectorAll(".task-family")) {
      let inSection = 0;
      for (const card of section.querySelectorAll(".task-card")) {
        const hit = !q || card.dataset.search.includes(q);
        card.hidden = !hit;
        if (hit) inSection += 1;
      }
      section.hidden = inSection === 0;
      shown += inSection;
    }
    document.getElementById("no-match").hidden = shown > 0;
  };
  input.addEventListener("input", apply);
}

// -- asset pickers: a select fed by GET /api/v1/projects/{p}/assets?name=<glob> --------------------
function wireAssetPicker(box, project) {
  const search = box.querySelector(".asset-search");
  const select = box.querySelector("select");
  const multiple = box.dataset.multiple === "true";
  const counter = box.querySelector(".picked-count");
  let seq = 0;
  let timer = null;
  const count = () => {
    if (counter) counter.textContent = fmt(t("%(n)s picked"), { n: select.selectedOptions.length });
  };
  async function load() {
    const q = search.value.trim();
    const glob = !q ? "" : /[*?]/.test(q) ? q : `*${q}*`;
    const mine = ++seq;
    const params = new URLSearchParams({ limit: "50", sort: "created_at", order: "desc" });
    if (glob) params.set("name", glob);
    let page;
    try {
      page = await api(`/api/v1/projects/${encodeURIComponent(project)}/assets?${params}`);
    } catch (e) {
      return; // the picker keeps what it had; submitting says what is wrong
    }
    if (mine !== seq) return; // a later search answered first
    const kept = [...select.options].filter((o) => o.selected);
    const keptIds = new Set(kept.map((o) => o.value));
    select.replaceChildren(...kept);
    for (const a of page.items) {
      if (keptIds.has(a.id)) continue;
      select.append(el("option", { value: a.id, text: `${a.name} · ${a.kind}` }));
    }
    if (!page.items.length && !kept.length) select.append(el("option", { value: "", disabled: true, text: t("No asset matches.") }));
    count();
  }
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 250); });
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); select.focus(); }
    if (e.key === "Enter") { e.preventDefault(); clearTimeout(timer); load(); }
  });
  if (multiple) select.addEventListener("change", count);
  load();
}

// -- reading the form back ------------------------------------------------------------------------
class FieldError extends Error {}

const INT = /^-?\d+$/;

// The JSON text of one parameter, null to leave it out (its default applies).
function fragment(box) {
  const kind = box.dataset.control;
  const nullable = "nullable" in box.dataset;
  const hasDefault = "hasDefault" in box.dataset;
  const required = "required" in box.dataset;
  const control = box.querySelector(`#p-${CSS.escape(box.dataset.param)}`);
  const empty = () => {
    if (nullable) return "null";
    if (hasDefault || !required) return null;
    throw new FieldError(t("Required"));
  };
  switch (kind) {
    case "checkbox":
      return control.checked ? "true" : "false";
    case "integer": {
      if (control.validity.badInput) throw new FieldError(t("Not a number"));
      const raw = control.value.trim();
      if (!raw) return empty();
      if (!INT.test(raw)) throw new FieldError(t("A whole number is needed"));
      return BigInt(raw).toString();
    }
    case "number": {
      if (control.validity.badInput) throw new FieldError(t("Not a number"));
      const raw = control.value.trim();
      if (!raw) return empty();
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new FieldError(t("Not a number"));
      return JSON.stringify(n);
    }
    case "text":
      return control.value === "" && nullable ? "null" : JSON.stringify(control.value);
    case "json": {
      const raw = control.value.trim();
      if (!raw) return empty();
      try { JSON.parse(raw); } catch { throw new FieldError(t("Not valid JSON")); }
      return raw;
    }
    case "select":
      return control.value === "" ? empty() : control.value; // option values are JSON texts
    case "assets": {
      const ids = [...control.selectedOptions].map((o) => o.value).filter(Boolean);
      return ids.length ? JSON.stringify(ids) : (hasDefault || nullable ? null : empty());
    }
    default: // dataset, model, asset: an id (or a name given in the link)
      return control.value === "" ? empty() : JSON.stringify(control.value);
  }
}

function showFieldError(box, message) {
  const note = box.querySelector(".field-error");
  note.textContent = message;
  note.hidden = false;
  box.classList.add("invalid");
  for (const c of box.querySelectorAll("input, select, textarea")) c.setAttribute("aria-invalid", "true");
}

function clearErrors(form) {
  for (const box of form.querySelectorAll(".invalid")) box.classList.remove("invalid");
  for (const note of form.querySelectorAll(".field-error")) { note.hidden = true; note.textContent = ""; }
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
  const alert = document.getElementById("form-error");
  alert.hidden = true;
  alert.textContent = "";
}

function showFormError(message) {
  const alert = document.getElementById("form-error");
  alert.textContent = message;
  alert.hidden = false;
  alert.scrollIntoView({ block: "nearest" });
}

// A run option's JSON text: an integer in [lo, hi] or nothing.
function option(form, name, lo, hi, message) {
  const input = form.querySelector(`[name=${name}]`);
  const raw = input.value.trim();
  if (!raw) return null;
  if (!/^\d+$|^-\d+$/.test(raw) || BigInt(raw) < BigInt(lo) || BigInt(raw) > BigInt(hi)) {
    showFieldError(input.closest(".field"), message);
    throw new FieldError(message);
  }
  return BigInt(raw).toString();
}

function body(form, task) {
  const parts = [];
  let bad = null;
  for (const box of form.querySelectorAll(".pf")) {
    try {
      const text = fragment(box);
      if (text !== null) parts.push(`${JSON.stringify(box.dataset.param)}:${text}`);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      showFieldError(box, e.message);
      bad = bad || box;
    }
  }
  const opts = [];
  const tryOption = (key, lo, hi, msg) => {
    try {
      const v = option(form, key, lo, hi, msg);
      if (v !== null) opts.push(`${JSON.stringify(key)}:${v}`);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      bad = bad || form.querySelector(`[name=${key}]`).closest(".field");
    }
  };
  tryOption("priority", -1000, 1000, fmt("%(lo)s … %(hi)s", { lo: -1000, hi: 1000 }));
  tryOption("seed", 0, (2n ** 63n - 1n).toString(), t("The seed is a whole number from 0 to 2^63-1."));
  tryOption("max_attempts", 1, 100, fmt("%(lo)s … %(hi)s", { lo: 1, hi: 100 }));
  if (bad) {
    const focusable = bad.querySelector("input, select, textarea");
    if (focusable) focusable.focus();
    throw new FieldError(t("Fix the highlighted fields."));
  }
  return `{"task":${JSON.stringify(task)},"params":{${parts.join(",")}}${opts.length ? "," + opts.join(",") : ""}}`;
}

// The API says what is wrong in one line: "<task>: <field>: <why>" or "<option>: <why>".
function markServerError(form, message) {
  const m = /^[a-z0-9_.]+: ([A-Za-z_]\w*)[^:]*: (.+)$/.exec(message) || /^(priority|seed|max_attempts): (.+)$/.exec(message);
  if (!m) return;
  const box = form.querySelector(`.pf[data-param="${CSS.escape(m[1])}"]`)
    || form.querySelector(`[name="${CSS.escape(m[1])}"]`)?.closest(".field");
  if (box) {
    showFieldError(box, m[2]);
    box.querySelector("input, select, textarea")?.focus();
  }
}

// (Attributes, not form.dataset: a form's named controls shadow its properties, and a task may
// well have a parameter called "dataset".)
function wireLauncher(form) {
  const project = form.getAttribute("data-project");
  const task = form.getAttribute("data-task");
  for (const box of form.querySelectorAll(".asset-picker")) wireAssetPicker(box, project);
  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    clearErrors(form);
    let text;
    try {
      text = body(form, task);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      showFormError(err.message);
      return;
    }
    submit.disabled = true;
    submit.textContent = t("Submitting…");
    try {
      const job = await api(`/api/v1/projects/${encodeURIComponent(project)}/jobs`, {
        method: "POST", body: new Blob([text], { type: "application/json" }),
        headers: { "Content-Type": "application/json" },
      });
      location.assign(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showFormError(err.message);
      markServerError(form, err.message);
      submit.disabled = false;
      submit.textContent = t("Queue job");
    }
  });
  // Editing a field clears its error.
  form.addEventListener("input", (e) => {
    const box = e.target.closest(".invalid");
    if (!box) return;
    box.classList.remove("invalid");
    const note = box.querySelector(".field-error");
    if (note) note.hidden = true;
    e.target.removeAttribute("aria-invalid");
  });
}

wireFilter();
const form = document.getElementById("launch");
if (form) wireLauncher(form);
