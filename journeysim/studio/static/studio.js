// journeysim studio: the page. Everything it shows comes from the HTTP API; names are only ever
// set as text or attribute values (never parsed as HTML), so any touchpoint name is safe to show.
import { afterChange, renderEditor, undo, updateToolbar } from "./editor.js";
import { renderMetrics } from "./numbers.js";
import { designTest, draftHypothesis, openHypothesisPane, openPrediction, runPrediction, writeHypothesis } from "./panes.js";
import { S, params } from "./state.js";
import { $, api, clone, el, status } from "./util.js";

export async function saveMap() {
  const res = await api("/api/save", { method: "POST", write: true, body: { name: S.name, map: S.map, revision: S.revision } });
  if (!res.ok) { status(res.errors.join("; "), true); return; }
  S.revision = res.data.revision;
  S.baseline = clone(S.map);
  S.baseMetrics = S.metrics;
  renderMetrics();
  updateToolbar();
  status(`saved ${res.data.saved} (the previous version is ${res.data.backup})`);
}

export function renderList(list) {
  $("list-view").hidden = false;
  $("folder-name").textContent = list.folder;
  const items = list.entries.map((e) => {
    const href = e.kind === "map" ? `/?name=${encodeURIComponent(e.name)}`
      : e.baseline ? `/?name=${encodeURIComponent(e.baseline)}&hypothesis=${encodeURIComponent(e.name)}` : null;
    const title = href ? el("a", { href }, e.title) : el("span", {}, e.title);
    return el("li", { "data-entry": e.name }, el("span", { class: "kind" }, e.kind), title, el("code", {}, e.name),
      e.problems ? el("div", { class: "refusal" }, e.problems.join("\n")) : null);
  });
  $("entries").replaceChildren(...(items.length ? items : [el("li", {}, "No maps or hypotheses here.")]));
  document.body.dataset.ready = "list";
}

export async function openMap(name) {
  const res = await api(`/api/map?name=${encodeURIComponent(name)}`);
  $("map-view").hidden = false;
  $("doc-name").textContent = name;
  document.title = `${name} · journeysim studio`;
  if (!res.ok) {
    $("map-errors").hidden = false;
    $("map-errors").textContent = res.errors.join("\n");
    document.body.dataset.ready = "error";
    return;
  }
  S.name = name;
  S.revision = res.etag ? res.etag.replace(/"/g, "") : null;
  S.baseline = res.data;
  S.map = clone(res.data);
  const metrics = await api(`/api/evaluate?name=${encodeURIComponent(name)}`, { method: "POST", body: S.map });
  S.baseMetrics = metrics.ok ? metrics.data : null;
  S.metrics = S.baseMetrics;
  $("toolbar").hidden = false;
  if (!metrics.ok) {
    $("map-errors").hidden = false;
    $("map-errors").textContent = metrics.errors.join("\n");
  }
  await afterChange({ editor: true });
  if (!metrics.ok) { $("map-errors").hidden = false; $("map-errors").textContent = metrics.errors.join("\n"); }
  if (params.get("hypothesis")) openPrediction(params.get("hypothesis"));
  document.body.dataset.ready = "map";
}

export function keyboard(ev) {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName) && document.activeElement.type !== "range";
  if (!(ev.ctrlKey || ev.metaKey) || typing) return;
  const key = ev.key.toLowerCase();
  if (key === "z" && !ev.shiftKey) { ev.preventDefault(); undo(S.history, S.future); }
  else if ((key === "z" && ev.shiftKey) || key === "y") { ev.preventDefault(); undo(S.future, S.history); }
}

export async function main() {
  $("undo").addEventListener("click", () => undo(S.history, S.future));
  $("redo").addEventListener("click", () => undo(S.future, S.history));
  $("add-touchpoint").addEventListener("click", () => { S.selected = { kind: "new" }; S.refusal = null; renderEditor(); });
  $("save-map").addEventListener("click", saveMap);
  $("save-hypothesis").addEventListener("click", openHypothesisPane);
  $("hyp-write").addEventListener("click", writeHypothesis);
  $("hyp-cancel").addEventListener("click", () => { $("hypothesis-pane").hidden = true; });
  for (const id of ["hyp-name", "hyp-title", "hyp-metric"]) $(id).addEventListener("change", draftHypothesis);
  $("predict").addEventListener("click", runPrediction);
  $("design").addEventListener("click", designTest);
  document.addEventListener("keydown", keyboard);
  const list = await api("/api/maps");
  if (!list.ok) { status(list.errors.join("; "), true); return; }
  S.entries = list.data.entries;
  const name = params.get("name") || list.data.single;
  if (name) await openMap(name); else renderList(list.data);
}

main().catch((err) => { status(`error: ${err.message}`, true); document.body.dataset.ready = "error"; throw err; });
