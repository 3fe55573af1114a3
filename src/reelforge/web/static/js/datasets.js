// Datasets: the builder (source from a selection or a filter, labels, splits, a live preview made
// by the API's own dry run) and the small behaviours of the version and diff pages.
import { api, data, el, t, toast } from "/static/js/app.js";

const fmt = (s, values) => s.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
const SPLITS = ["train", "val", "test"];
const EPS = 1e-6;

function builder(form) {
  const project = form.dataset.project;
  const prefill = data("ds-prefill") || {};
  const existing = data("ds-existing-names") || {};  // name -> latest version
  const $ = (id) => document.getElementById(id);
  const errorBox = $("ds-error");
  let selection = Array.isArray(prefill.assets) ? prefill.assets : [];
  if (prefill.from_selection) {
    // The asset browser keeps its selection in sessionStorage (a JSON array of asset ids).
    try {
      const stored = JSON.parse(sessionStorage.getItem("rf-selection") || "[]");
      if (Array.isArray(stored)) selection = stored.filter((x) => typeof x === "string");
    } catch { selection = []; }
  }

  const source = () => form.querySelector("input[name=source]:checked")?.value || "filter";
  const labelMode = () => form.querySelector("input[name=label_mode]:checked")?.value || "none";

  function showError(msg) {
    errorBox.textContent = msg;
    errorBox.hidden = !msg;
  }

  function ratios() {
    const values = SPLITS.map((s) => Number.parseFloat($(`sp-${s}`).value));
    if (values.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) return { values, error: t("Split ratios must be numbers from 0 to 1.") };
    const sum = values.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > EPS) {
      return { values, sum, error: fmt(t("Split ratios must sum to 1 (they sum to %(sum)s)."), { sum: +sum.toFixed(4) }) };
    }
    return { values, sum };
  }

  function filterTags() {
    return $("f-tags").value.split(",").map((s) => s.trim()).filter(Boolean);
  }

  // What the API gets: the same body for the dry run and the real thing.
  function body() {
    const b = { name: $("ds-name").value.trim(), description: $("ds-description").value };
    const r = ratios();
    b.splits = r.values;
    b.seed = Number.parseInt($("sp-seed").value || "0", 10);
    if (source() === "selection") {
      b.assets = selection;
    } else {
      if ($("f-kind").value) b.kind = $("f-kind").value;
      b.tags = filterTags();
      if ($("f-name").value.trim()) b.name_glob = $("f-name").value.trim();
    }
    const mode = labelMode();
    if (mode === "tag") b.label_from = `tag:${$("lab-tag-prefix").value.trim()}`;
    else if (mode === "folder") b.label_from = "folder";
    else if (mode === "meta") b.label_from = `meta:${$("lab-meta-key").value.trim()}`;
    return b;
  }

  // Problems the page can see without asking the server (the API checks them again).
  function localProblem(b) {
    if (!b.name) return t("Give the dataset a name.");
    const r = ratios();
    if (r.error) return r.error;
    if (!Number.isInteger(b.seed) || b.seed < 0) return t("The seed is a whole number from 0.");
    if (labelMode() === "tag" && !$("lab-tag-prefix").value.trim()) return t("Give the tag prefix, e.g. class:");
    if (labelMode() === "meta" && !$("lab-meta-key").value.trim()) return t("Give the metadata field.");
    if (source() === "selection" && !selection.length) return t("No assets are selected. Select some in the asset browser, or use a filter.");
    return "";
  }

  function renderSplitInputs() {
    const r = ratios();
    const out = $("sp-sum");
    out.textContent = Number.isFinite(r.sum) ? String(+r.sum.toFixed(4)) : "–";
    out.classList.toggle("bad", Boolean(r.error));
    SPLITS.forEach((s, i) => {
      const seg = $("sp-bar").querySelector(`.seg-${s}`);
      seg.style.flex = `${Math.max(0, r.values[i] || 0)} 1 0`;
    });
    for (const s of SPLITS) $(`sp-${s}`).setAttribute("aria-invalid", r.error ? "true" : "false");
  }

  function renderSourcePanels() {
    const sel = source() === "selection";
    $("panel-selection").hidden = !sel;
    $("panel-filter").hidden = sel;
    const summary = $("sel-summary");
    summary.textContent = selection.length
      ? fmt(t("%(n)s assets selected"), { n: selection.length })
      : t("No assets are selected. Select some in the asset browser, or use a filter.");
    summary.classList.toggle("muted", !selection.length);
  }

  function renderName() {
    const name = $("ds-name").value.trim();
    const help = $("ds-name-help");
    if (!name) { help.textContent = ""; $("pv-target").textContent = ""; return; }
    help.textContent = Object.hasOwn(existing, name)
      ? fmt(t("Adds version %(v)s to the existing dataset %(name)s."), { v: existing[name] + 1, name })
      : fmt(t("Creates the new dataset %(name)s (version 1)."), { name });
    $("pv-target").textContent = help.textContent;
  }

  function splitBar(box, counts, total) {
    box.replaceChildren(...SPLITS.filter((s) => counts[s]).map((s) => el("span", { class: `seg seg-${s}`, style: `flex: ${counts[s]} 1 0` })));
    box.setAttribute("aria-label", SPLITS.map((s) => `${t(s)} ${counts[s] || 0}`).join(", "));
    box.hidden = !total;
  }

  function renderPreview(res) {
    $("pv-count").textContent = String(res.n_items);
    const splits = res.counts.splits || {};
    splitBar($("pv-bar"), splits, res.n_items);
    $("pv-splits").replaceChildren(...SPLITS.flatMap((s) => [el("dt", { text: t(s) }), el("dd", { text: String(splits[s] || 0), "data-split": s })]));
    const labels = Object.entries(res.counts.labels || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const unlabelled = res.n_items - labels.reduce((a, [, n]) => a + n, 0);
    const chips = labels.map(([k, n]) => el("span", { class: "tag label-chip", "data-label": k }, `${k} · ${n}`));
    if (labelMode() !== "none" && unlabelled) chips.push(el("span", { class: "tag unlabelled" }, `${t("unlabelled")} · ${unlabelled}`));
    if (res.captions) chips.push(el("span", { class: "tag" }, `${t("with a caption")} · ${res.captions}`));
    $("pv-labels").replaceChildren(...(chips.length ? chips : ["—"]));
  }

  async function thumbnails(b, signal) {
    let assets = [];
    if (b.assets) {
      const first = b.assets.slice(0, 8);
      assets = (await Promise.all(first.map((id) => api(`assets/${encodeURIComponent(id)}`, { signal }).catch(() => null)))).filter(Boolean);
    } else {
      const q = new URLSearchParams({ limit: "8" });
      if (b.kind) q.set("kind", b.kind);
      for (const tag of b.tags || []) q.append("tag", tag);
      if (b.name_glob) q.set("name", b.name_glob);
      assets = (await api(`projects/${encodeURIComponent(project)}/assets?${q}`, { signal })).items;
    }
    $("pv-thumbs").replaceChildren(...assets.map((a) => el("figure", { class: "pv-thumb", title: a.name },
      a.thumb_sha256
        ? el("img", { src: `/api/v1/assets/${a.id}/thumbnail`, alt: a.name, loading: "lazy", width: "96", height: "96" })
        : el("span", { class: "thumb placeholder", role: "img", "aria-label": `${a.kind}: ${a.name}` }, a.kind))));
  }

  let timer = 0;
  let inflight = null;
  async function preview() {
    const b = body();
    const problem = localProblem({ ...b, name: b.name || "preview" });
    if (inflight) inflight.abort();
    if (problem) {
      $("pv-count").textContent = "–";
      $("pv-message").textContent = problem;
      $("pv-thumbs").replaceChildren();
      $("pv-labels").replaceChildren("—");
      $("pv-splits").replaceChildren();
      $("pv-bar").replaceChildren();
      return;
    }
    const ctrl = new AbortController();
    inflight = ctrl;
    $("pv-message").textContent = t("Checking…");
    try {
      const res = await api(`projects/${encodeURIComponent(project)}/datasets?dry_run=true`,
        { method: "POST", body: { ...b, name: b.name || "preview" }, signal: ctrl.signal });
      renderPreview(res);
      await thumbnails(b, ctrl.signal);
      const shown = $("pv-thumbs").children.length;
      $("pv-message").textContent = shown && shown < res.n_items ? fmt(t("Showing %(n)s of them."), { n: shown }) : "";
    } catch (e) {
      if (e.name === "AbortError") return;
      $("pv-count").textContent = "0";
      $("pv-thumbs").replaceChildren();
      $("pv-labels").replaceChildren("—");
      $("pv-splits").replaceChildren();
      $("pv-bar").replaceChildren();
      $("pv-message").textContent = e.message;
    } finally {
      if (inflight === ctrl) inflight = null;
    }
  }

  function changed() {
    renderSplitInputs();
    renderSourcePanels();
    renderName();
    showError("");
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const b = body();
    const problem = localProblem(b);
    if (problem) { showError(problem); errorBox.focus?.(); return; }
    const button = $("ds-submit");
    button.disabled = true;
    button.textContent = t("Building…");
    try {
      const v = await api(`projects/${encodeURIComponent(project)}/datasets`, { method: "POST", body: b });
      toast(fmt(t("Created %(ref)s"), { ref: `${v.dataset_name}@${v.version}` }));
      location.assign(`/datasets/${encodeURIComponent(v.id)}`);
    } catch (err) {
      showError(err.message);
      button.disabled = false;
      button.textContent = button.dataset.label;
    }
  });
  $("ds-submit").dataset.label = $("ds-submit").textContent;
  errorBox.tabIndex = -1;
  changed();
}

// The version page's "compare with" picker and the item filters are <select data-rf-navigate>
// (app.js follows them); nothing else runs there.
const form = document.getElementById("ds-form");
if (form) builder(form);
