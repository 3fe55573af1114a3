// The asset browser: "load more" pages, multi-select (checkbox, shift-click ranges, keyboard),
// tagging the selection through the batch API, and the links that build a dataset from it.
import { api, data, t, toast } from "/static/js/app.js";

const cfg = data("assets-page") || {};
const grid = document.getElementById("asset-grid");
const selectable = grid && grid.dataset.selectable === "true";
const selected = new Set();
let anchor = null; // index of the last card clicked: the other end of a shift-click range
const IN_URL = 200; // more ids than this go through sessionStorage (rf-selection)

const cards = () => (grid ? [...grid.querySelectorAll(".ab-card")] : []);
const boxOf = (card) => card.querySelector("input.ab-select");
const fmt = (s, vals) => t(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));

function mark(card, on) {
  const box = boxOf(card);
  if (!box) return;
  box.checked = on;
  card.classList.toggle("selected", on);
  if (on) selected.add(card.dataset.assetId); else selected.delete(card.dataset.assetId);
}

function refresh() {
  const bar = document.getElementById("selection-bar");
  if (!bar) return;
  const n = selected.size;
  bar.hidden = n === 0;
  document.getElementById("sel-count").textContent = fmt("{n} selected", { n });
  const ids = [...selected];
  try {
    sessionStorage.setItem("rf-selection", JSON.stringify(ids));
  } catch { /* storage full or off: the URL still carries up to 200 */ }
  const base = `/p/${encodeURIComponent(cfg.project)}/datasets/new`;
  const link = document.getElementById("sel-dataset");
  link.href = ids.length <= IN_URL ? `${base}?assets=${ids.join(",")}` : `${base}?from=selection`;
  const all = document.getElementById("select-all");
  if (all) all.setAttribute("aria-pressed", String(n > 0 && n === cards().length));
}

function selectRange(from, to, on) {
  const list = cards();
  const [a, b] = from < to ? [from, to] : [to, from];
  for (let i = a; i <= b; i++) mark(list[i], on);
}

function knownTags() {
  const list = document.getElementById("known-tags");
  if (!list) return;
  const tags = new Set();
  for (const c of cards()) for (const tg of (c.dataset.tags || "").split(",")) if (tg) tags.add(tg);
  list.replaceChildren(...[...tags].sort().map((tg) => Object.assign(document.createElement("option"), { value: tg })));
}

function columns() {
  const list = cards();
  if (list.length < 2) return 1;
  const top = list[0].offsetTop;
  const n = list.findIndex((c) => c.offsetTop !== top);
  return n === -1 ? list.length : n;
}

function wireSelection() {
  if (!selectable) return;
  grid.addEventListener("click", (e) => {
    const card = e.target.closest(".ab-card");
    if (!card) return;
    const list = cards();
    const i = list.indexOf(card);
    const box = boxOf(card);
    if (e.target === box) {
      if (e.shiftKey && anchor !== null) selectRange(anchor, i, box.checked);
      else mark(card, box.checked);
      anchor = i;
      refresh();
    } else if (e.shiftKey) {
      // shift-click anywhere on a card selects the range up to it (instead of opening it)
      e.preventDefault();
      if (anchor !== null) selectRange(anchor, i, true); else mark(card, true);
      anchor = i;
      refresh();
    }
  });
  grid.addEventListener("keydown", (e) => {
    const box = e.target.closest("input.ab-select");
    if (!box) return;
    const list = cards();
    const i = list.indexOf(box.closest(".ab-card"));
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[e.key];
    if (step !== undefined) {
      e.preventDefault();
      const j = Math.max(0, Math.min(list.length - 1, i + step));
      if (e.shiftKey) { selectRange(i, j, true); anchor = j; refresh(); }
      boxOf(list[j]).focus();
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a") {
      e.preventDefault();
      for (const c of list) mark(c, true);
      refresh();
    } else if (e.key === "Escape") {
      for (const c of list) mark(c, false);
      refresh();
    } else if (e.key === "Enter") {
      e.preventDefault();
      location.assign(list[i].querySelector("a.ab-name").href);
    }
  });
  document.getElementById("select-all")?.addEventListener("click", () => {
    const list = cards();
    const all = list.every((c) => boxOf(c)?.checked);
    for (const c of list) mark(c, !all);
    refresh();
  });
  document.getElementById("sel-clear")?.addEventListener("click", () => {
    for (const c of cards()) mark(c, false);
    refresh();
  });
  document.getElementById("sel-add-tag")?.addEventListener("click", () => tagSelection("add"));
  document.getElementById("sel-remove-tag")?.addEventListener("click", () => tagSelection("remove"));
  document.getElementById("sel-tag")?.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); tagSelection("add"); }
  });
}

function renderTags(card, tags) {
  card.dataset.tags = tags.join(",");
  const box = card.querySelector(".ab-tags");
  if (!box) return;
  const chips = tags.slice(0, 3).map((tg) => Object.assign(document.createElement("span"), { className: "tag", textContent: tg }));
  if (tags.length > 3) chips.push(Object.assign(document.createElement("span"), { className: "tag muted", textContent: `+${tags.length - 3}` }));
  box.replaceChildren(...chips);
}

async function tagSelection(how) {
  const input = document.getElementById("sel-tag");
  const tag = input.value.trim();
  if (!tag) { toast(t("Enter a tag first"), { error: true }); input.focus(); return; }
  const ids = [...selected];
  try {
    const res = await api(`/api/v1/projects/${encodeURIComponent(cfg.project)}/assets/tags`, {
      method: "POST", body: { asset_ids: ids, add: how === "add" ? [tag] : [], remove: how === "remove" ? [tag] : [] },
    });
    const byId = new Map(res.items.map((a) => [a.id, a]));
    for (const c of cards()) if (byId.has(c.dataset.assetId)) renderTags(c, byId.get(c.dataset.assetId).tags);
    knownTags();
    toast(fmt("Tagged {n} assets", { n: res.items.length }));
  } catch (err) {
    toast(err.message, { error: true });
  }
}

function wireLoadMore() {
  const more = document.getElementById("load-more");
  if (!more || !grid) return;
  more.addEventListener("click", async (e) => {
    e.preventDefault();
    more.setAttribute("aria-busy", "true");
    try {
      const res = await fetch(more.href + "&partial=1", { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!res.ok) throw new Error(`${res.status}`);
      const tpl = document.createElement("template");
      tpl.innerHTML = await res.text();
      const chunk = tpl.content.querySelector(".ab-chunk");
      if (!chunk || chunk.dataset.error) throw new Error(chunk?.dataset.error || "no cards in the answer");
      const added = [...chunk.children];
      grid.append(...added);
      const count = document.getElementById("shown-count");
      const n = cards().length;
      if (count) { count.dataset.n = String(n); count.textContent = fmt("{n} shown", { n }); }
      if (chunk.dataset.nextUrl) more.href = chunk.dataset.nextUrl; else more.remove();
      boxOf(added[0] || document.createElement("div"))?.focus();
      knownTags();
    } catch (err) {
      toast(`${t("Could not load more")}: ${err.message}`, { error: true });
    } finally {
      more.removeAttribute("aria-busy");
    }
  });
}

wireSelection();
wireLoadMore();
knownTags();
