// Shared page helpers (an ES module): the API client with the session's CSRF token, toasts,
// translated strings, and the small behaviours every page has. Page scripts import from here:
//   import { api, toast, t } from "/static/js/app.js";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

export const csrf = () => cookie("reelforge_csrf");

// Strings for scripts, translated by the server: every <script type="application/json"
// class="rf-i18n"> block (and the base page's #rf-i18n) adds to the table.
const strings = {};
function loadStrings() {
  for (const el of document.querySelectorAll("#rf-i18n, script.rf-i18n")) {
    try { Object.assign(strings, JSON.parse(el.textContent)); } catch { /* a broken block: keep English */ }
  }
}
loadStrings();
export const t = (s) => strings[s] ?? s;

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// Call the REST API as the signed-in user. JSON in and out; FormData goes as multipart.
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const h = { "Accept": "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrf();
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, { method, body: payload, headers: h, signal, credentials: "same-origin" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", t("Network error"));
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: "http_error", message: `${res.status}` };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

export function toast(message, { error = false, ms = 4000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = document.createElement("div");
  el.className = "toast" + (error ? " error" : "");
  el.textContent = message;
  box.appendChild(el);
  setTimeout(() => el.remove(), ms);
}

// Read a JSON data block the server put in the page: <script type="application/json" id="...">.
export function data(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : String(c));
  return node;
}

// Live job events (Server-Sent Events of /api/v1/jobs/{id}/events), reconnecting by itself:
// onEvent(type, data) with type progress | log | metric | end.
export function jobEvents(jobId, onEvent) {
  const src = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
  // Event types of server/sse.py: progress, log, metric, end (the job is finished: stop listening).
  for (const type of ["progress", "log", "metric", "end"]) {
    src.addEventListener(type, (e) => {
      let payload = null;
      try { payload = JSON.parse(e.data); } catch { return; }
      if (type === "end") src.close();
      onEvent(type, payload);
    });
  }
  return src;
}

function wire() {
  // The project switcher and any <select data-rf-navigate> go where the option says.
  for (const sel of document.querySelectorAll("select[data-rf-navigate]")) {
    sel.addEventListener("change", () => { if (sel.value) location.assign(sel.value); });
  }
  // Forms that post to our own pages carry the session's CSRF token.
  for (const form of document.querySelectorAll("form[data-rf-csrf-form]")) {
    form.addEventListener("submit", () => { form.querySelector("input[name=csrf]").value = csrf(); });
  }
  // htmx requests are same-origin page requests: send the CSRF token with unsafe ones too.
  document.body.addEventListener("htmx:configRequest", (e) => { e.detail.headers["X-CSRF-Token"] = csrf(); });
  // Close open menus with Escape.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") for (const d of document.querySelectorAll("details.menu[open]")) d.removeAttribute("open");
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
else wire();
