// From edits to a hypothesis, its prediction (in the background) and the test it needs.
import { S } from "./state.js";
import { $, api, el, fmt, signed, status } from "./util.js";

export function defaultHypothesisName() {
  const stem = S.name.replace(/\.(ya?ml|json)$/i, "");
  const base = stem.split("/").pop();
  const folder = S.entries.some((e) => e.kind === "hypothesis" && e.name.startsWith("hypotheses/")) ? "hypotheses/" : stem.includes("/") ? stem.slice(0, stem.lastIndexOf("/") + 1) : "";
  let n = 1, name;
  do { name = `${folder}${base}-edits${n > 1 ? "-" + n : ""}.yaml`; n++; } while (S.entries.some((e) => e.name === name));
  return name;
}

export function uncertainSpecs() {
  const out = [];
  for (const input of $("hyp-numbers").querySelectorAll("input[data-path]")) {
    if (input.value.trim()) out.push({ path: JSON.parse(input.dataset.path), spec: input.value });
  }
  return out;
}

export async function draftHypothesis() {
  const res = await api("/api/hypothesis", { method: "POST", body: {
    name: S.name, revision: S.revision, map: S.map, save_as: $("hyp-name").value, title: $("hyp-title").value,
    metric: $("hyp-metric").value, uncertain: uncertainSpecs() } });
  $("hyp-errors").hidden = res.ok;
  $("hyp-errors").textContent = res.errors.join("\n");
  $("hyp-write").disabled = !res.ok;
  if (res.ok) $("hyp-preview").textContent = res.data.yaml;
  return res;
}

export async function openHypothesisPane() {
  $("hypothesis-pane").hidden = false;
  if (!$("hyp-name").value) $("hyp-name").value = defaultHypothesisName();
  if (!$("hyp-title").value) $("hyp-title").value = `Edits to ${S.baseline.name || S.name}`;
  $("hyp-numbers").tBodies[0].replaceChildren();
  const res = await draftHypothesis();
  if (!res.ok) return;
  $("hyp-numbers").tBodies[0].replaceChildren(...res.data.numbers.map((n) => {
    const input = el("input", { type: "text", "data-path": JSON.stringify(n.path), placeholder: "[low, high]",
                               "aria-label": `range or distribution for ${n.label}` });
    input.addEventListener("change", draftHypothesis);
    return el("tr", {}, el("td", { class: "name" }, n.label), el("td", {}, fmt(n.before)), el("td", {}, fmt(n.after)), el("td", {}, input));
  }));
  $("hypothesis-pane").scrollIntoView({ block: "nearest" });
}

export async function writeHypothesis() {
  const draft = await draftHypothesis();
  if (!draft.ok) return;
  const name = $("hyp-name").value;
  let res = await api("/api/save", { method: "POST", write: true, body: { name, hypothesis: draft.data.hypothesis } });
  if (res.status === 409 && confirm(`${name} exists. Overwrite it (the old one is kept as ${name}.bak)?`)) {
    res = await api("/api/save", { method: "POST", write: true, body: { name, hypothesis: draft.data.hypothesis, overwrite: true } });
  }
  if (!res.ok) {
    $("hyp-errors").hidden = false;
    $("hyp-errors").textContent = res.errors.join("\n");
    return;
  }
  status(`wrote ${res.data.saved}`);
  S.entries.push({ name, kind: "hypothesis" });
  openPrediction(name);
}

// -- prediction and test design -----------------------------------------------------------------

export function openPrediction(name) {
  S.hypothesis = name;
  S.job = null;
  $("prediction-pane").hidden = false;
  $("pred-hypothesis").textContent = name;
  $("pred-result").hidden = true;
  $("pred-errors").hidden = true;
  $("pred-progress").hidden = true;
  $("prediction-pane").scrollIntoView({ block: "nearest" });
}

export async function runPrediction() {
  const body = { name: S.hypothesis, background: true, draws: Number($("pred-draws").value || 2000) };
  if ($("pred-seed").value !== "") body.seed = Number($("pred-seed").value);
  $("predict").disabled = true;
  $("pred-result").hidden = true;
  $("pred-errors").hidden = true;
  const progress = $("pred-progress");
  progress.hidden = false;
  progress.value = 0;
  let res = await api("/api/predict", { method: "POST", body });
  while (res.ok && res.data.state !== "done" && res.data.state !== "failed") {
    await new Promise((r) => setTimeout(r, 120));
    res = await api(`/api/predict/${res.data.job}`);
    if (res.ok) progress.value = res.data.progress;
  }
  $("predict").disabled = false;
  if (!res.ok || res.data.state === "failed") {
    $("pred-errors").hidden = false;
    $("pred-errors").textContent = (res.ok ? res.data.errors : res.errors).join("\n");
    progress.hidden = true;
    return;
  }
  S.job = res.data.job;
  showPrediction(res.data);
}

export function interval(pair, f = fmt) {
  return pair && pair[0] !== null ? `[${f(pair[0])}, ${f(pair[1])}]` : "–";
}

export function showPrediction(data) {
  const p = data.prediction;
  const pct = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}%`);
  const level = `${Math.round(100 * p.interval_level)}% interval`;
  const rows = [
    ["baseline", `${p.metric}, baseline`, fmt(p.baseline), interval(p.baseline_interval)],
    ["variant", `${p.metric}, variant`, fmt(p.variant), interval(p.variant_interval)],
    ["lift_abs", "lift (absolute)", signed(p.lift_abs), interval(p.lift_abs_interval, signed)],
    ["lift_rel", "lift (relative)", pct(p.lift_rel), interval(p.lift_rel_interval, pct)],
    ["prob_positive", "P(lift > 0)", fmt(p.prob_positive), ""],
  ];
  $("pred-table").tBodies[0].replaceChildren(
    el("tr", {}, el("th", {}, ""), el("th", {}, "central"), el("th", {}, level)),
    ...rows.map(([key, name, central, span]) => el("tr", { "data-prediction": key }, el("td", {}, name),
      el("td", { class: "central" }, central), el("td", { class: "interval" }, span))));
  const plot = $("pred-plot");
  if (data.plot) { plot.src = data.plot; plot.hidden = false; } else plot.hidden = true;
  $("pred-method").textContent = `${p.draws} draws, seed ${p.seed}. ${data.method}`;
  $("pred-result").hidden = false;
  $("design-table").tBodies[0].replaceChildren();
}

export async function designTest() {
  const res = await api("/api/design", { method: "POST", body: { job: S.job, traffic: $("design-traffic").value } });
  $("design-errors").hidden = res.ok;
  $("design-errors").textContent = res.errors.join("\n");
  if (!res.ok) return;
  const d = res.data;
  const rows = [["n_per_arm", "customers per variant arm", d.n_per_arm], ["n_control", "customers in control", d.n_control],
    ["n_total", "customers in total", d.n_total],
    ["days", d.traffic_per_day ? `days at ${fmt(d.traffic_per_day)} customers/day` : "days (give a traffic)", d.days],
    ["assurance", "assurance (power over the predicted lift)", d.assurance]];
  $("design-table").tBodies[0].replaceChildren(...rows.map(([key, name, v]) =>
    el("tr", { "data-design": key }, el("td", {}, name), el("td", {}, fmt(v)))));
}
