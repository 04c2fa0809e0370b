// Editing: every edit is checked by the server before it is kept; undo, redo; the editor pane.
import { drawGraph, layout, renderWarnings, select } from "./graph.js";
import { attrs, pOf, remainder, removeTouchpoint, rowOf, setEntryShare, setP, stageList, structureKey, touchpoints } from "./model.js";
import { renderMetrics } from "./numbers.js";
import { S } from "./state.js";
import { $, api, clone, dict, el, fmt, status } from "./util.js";

const queue = [];
let pumping = false;

export function edit(mutate, group = null) {
  const last = queue[queue.length - 1];
  if (group && last && last.group === group) last.mutate = mutate;   // a slider's stream: only its latest value
  else queue.push({ mutate, group });
  if (!pumping) pump();
}

export async function pump() {
  pumping = true;
  while (queue.length) {
    const job = queue.shift();
    const candidate = clone(S.map);
    try {
      job.mutate(candidate);
    } catch (err) {
      refuse([err.message]);
      continue;
    }
    const started = performance.now();
    const res = await api(`/api/evaluate?name=${encodeURIComponent(S.name)}`, { method: "POST", body: candidate });
    if (!res.ok) { refuse(res.errors); continue; }
    if (!(job.group && job.group === S.group)) { S.history.push(S.map); S.future = []; }
    S.group = job.group;
    S.map = candidate;
    S.metrics = res.data;
    S.refusal = null;
    if (S.pendingSelect !== null && S.pendingSelect in S.map.touchpoints) S.selected = { kind: "touchpoint", name: S.pendingSelect };
    S.pendingSelect = null;
    const slot = document.querySelector("#editor [data-refusal]");
    if (slot) slot.hidden = true;
    renderMetrics();
    // From the edit to the updated panel: what benchmarks/studio.py reads in the browser.
    const ms = performance.now() - started;
    document.body.dataset.panelMs = ms.toFixed(1);
    document.body.dataset.edits = String(Number(document.body.dataset.edits || 0) + 1);
    await afterChange();
    status(`numbers updated in ${ms.toFixed(0)} ms`);
  }
  pumping = false;
}

export function refuse(messages) {
  S.refusal = messages;
  S.group = null;
  S.pendingSelect = null;
  const slot = document.querySelector("#editor [data-refusal]");
  if (!slot) { renderEditor(); return; }
  // In place: re-drawing the editor would drop a slider the user is still dragging.
  slot.textContent = messages.join("\n");
  slot.hidden = false;
  syncEditor();
}

export async function afterChange({ editor = false } = {}) {
  renderMetrics();
  updateToolbar();
  const map = S.map;
  const key = structureKey(map);
  if (key !== S.layoutKey) {
    S.layout = await layout(map);
    S.layoutKey = key;
    editor = true;
  }
  drawGraph();
  if (editor) renderEditor(); else syncEditor();
  const res = await api(`/api/flows?name=${encodeURIComponent(S.name)}`, { method: "POST", body: map });
  if (res.ok && S.map === map) {
    S.flows = new Map(res.data.flows.map(([a, b, f]) => [`${a}\u0000${b}`, f]));
    S.warnings = res.data.warnings;
    drawGraph();
    renderWarnings();
  }
}

export async function undo(from, to) {
  if (!from.length) return;
  to.push(S.map);
  S.map = from.pop();
  S.group = null;
  S.refusal = null;
  const res = await api(`/api/evaluate?name=${encodeURIComponent(S.name)}`, { method: "POST", body: S.map });
  S.metrics = res.ok ? res.data : null;
  if (S.selected && !stillThere(S.selected)) S.selected = null;
  await afterChange({ editor: true });
}

export function stillThere(sel) {
  if (sel.kind === "touchpoint") return sel.name in S.map.touchpoints;
  return sel.from in rowOf(S.map, sel.from, S.segment);
}

const bound = [];   // [input, read] pairs refreshed after each accepted edit

export function bind(input, read) {
  bound.push([input, read]);
  input.value = read();
  return input;
}

export function syncEditor() {
  for (const [input, read] of bound) {
    if (document.activeElement === input && input.type !== "range") continue;
    const value = read();
    if (input.type === "checkbox") input.checked = !!value; else if (input.value !== String(value)) input.value = value;
  }
}

export function numberInput(read, write, { min = 0, max, step = "any", group } = {}) {
  const input = el("input", { type: "number", min, max, step });
  bind(input, read);
  input.addEventListener("change", () => {
    const v = input.value === "" ? NaN : Number(input.value);
    if (Number.isNaN(v)) { syncEditor(); return; }
    edit((m) => write(m, v), group);
    S.group = null;
  });
  return input;
}

export function probability(read, write, group) {
  const slider = el("input", { type: "range", min: 0, max: 1, step: 0.001, "aria-label": "probability" });
  const box = el("input", { type: "number", min: 0, max: 1, step: "any", "aria-label": "probability" });
  bind(slider, read);
  bind(box, read);
  slider.addEventListener("input", () => edit((m) => write(m, Number(slider.value)), group));
  slider.addEventListener("change", () => { S.group = null; });
  box.addEventListener("change", () => {
    if (box.value === "") { syncEditor(); return; }
    edit((m) => write(m, Number(box.value)), null);
  });
  return [slider, box];
}

export function delayEditor(read, write) {
  const d = () => read();
  const form = () => {
    const v = d();
    if (v === undefined || v === null) return { dist: "none", mean: "", sd: "" };
    if (typeof v === "number") return { dist: "exponential", mean: v, sd: "" };
    return { dist: v.dist || "exponential", mean: v.mean ?? "", sd: v.sd ?? "" };
  };
  const dist = el("select", { "aria-label": "delay distribution" },
    ...["none", "exponential", "fixed", "lognormal", "gamma"].map((x) => el("option", { value: x }, x)));
  const mean = el("input", { type: "number", min: 0, step: "any", placeholder: "mean", "aria-label": "delay mean" });
  const sd = el("input", { type: "number", min: 0, step: "any", placeholder: "sd", "aria-label": "delay sd" });
  bind(dist, () => form().dist);
  bind(mean, () => form().mean);
  bind(sd, () => form().sd);
  const apply = () => {
    const kind = dist.value, m = Number(mean.value || 0), s = sd.value === "" ? null : Number(sd.value);
    // A distribution just chosen waits for the numbers it needs before it is sent.
    if (kind !== "none" && (mean.value === "" || ((kind === "lognormal" || kind === "gamma") && s === null))) return;
    edit((map) => write(map, kind === "none" ? undefined : kind === "exponential" ? m
      : (kind === "fixed" ? { dist: kind, mean: m } : { dist: kind, mean: m, sd: s })));
  };
  for (const c of [dist, mean, sd]) c.addEventListener("change", apply);
  return el("span", { class: "delay" }, dist, mean, sd);
}

export function field(name, control) {
  return el("div", { class: "field" }, el("span", {}, name), control);
}

export function refusalBox() {
  return el("p", { class: "refusal", role: "alert", "data-refusal": "", hidden: !S.refusal },
    S.refusal ? S.refusal.join("\n") : "");
}

export function segmentPicker() {
  const segments = Object.keys(S.map.segments || {});
  if (!segments.length) return null;
  const pick = el("select", { "aria-label": "whose row" }, el("option", { value: "" }, "all customers (the map's rows)"),
    ...segments.map((s) => el("option", { value: s }, `segment: ${s}`)));
  pick.value = S.segment;
  pick.addEventListener("change", () => { S.segment = pick.value; drawGraph(); renderEditor(); });
  return field("row of", pick);
}

export function rowEditor(a, focus) {
  const map = S.map;
  const seg = S.segment;
  const row = rowOf(map, a, seg);
  const lines = [];
  for (const b of Object.keys(row)) {
    const read = () => { const r = rowOf(S.map, a, seg); return b in r ? pOf(r[b]) : 0; };
    const write = (m, v) => setP(rowOf(m, a, seg, true), b, v);
    const [slider, box] = probability(read, write, `edge:${seg}:${a}:${b}`);
    const remove = el("button", { type: "button", class: "danger", title: `remove the edge ${a} → ${b}`,
      "aria-label": `remove the edge to ${b}`, onclick: () => edit((m) => { delete rowOf(m, a, seg, true)[b]; }) }, "✕");
    lines.push(el("div", { class: "edge-row" + (b === focus ? " focus" : ""), "data-edge-to": b },
      el("span", { class: "target", title: b }, `→ ${b}`), slider, box, remove));
  }
  const rest = el("span", { "data-remainder": a });
  bound.push([{ set value(v) { rest.textContent = v; }, get value() { return rest.textContent; }, type: "text" },
    () => fmt(Math.max(0, remainder(rowOf(S.map, a, seg))))]);
  rest.textContent = fmt(Math.max(0, remainder(row)));
  lines.push(el("div", { class: "remainder" }, "→ exit (the rest of the row): ", rest));
  const targets = touchpoints(map).filter((n) => !(n in row));
  if (targets.length) {
    const pick = el("select", { "aria-label": "new edge to" }, ...targets.map((n) => el("option", { value: n }, n)));
    lines.push(el("div", { class: "field" }, el("span", {}, "add edge to"), el("span", {}, pick, " ",
      el("button", { type: "button", onclick: () => edit((m) => { rowOf(m, a, seg, true)[pick.value] = 0; }) }, "Add"))));
  }
  return lines;
}

export function renderEditor() {
  bound.length = 0;
  const box = $("editor");
  const sel = S.selected;
  if (!S.map || !sel) {
    box.replaceChildren(el("p", { class: "hint" }, "Click a touchpoint or an edge to edit it."), refusalBox());
    return;
  }
  if (sel.kind === "new") return renderNewTouchpoint();
  const map = S.map;
  if (sel.kind === "edge") {
    const { from: a, to: b } = sel;
    const seg = S.segment;
    const spec = () => rowOf(S.map, a, seg)[b];
    const parts = [el("h2", {}, `${a} → ${b}`), refusalBox(), segmentPicker()];
    if (b in rowOf(map, a, seg)) {
      const [slider, box2] = probability(() => pOf(spec()) || 0, (m, v) => setP(rowOf(m, a, seg, true), b, v), `edge:${seg}:${a}:${b}`);
      parts.push(field("probability", el("span", {}, slider, " ", box2)));
      parts.push(field("delay", delayEditor(() => { const s = spec(); return s && typeof s === "object" ? s.delay : undefined; },
        (m, d) => {
          const row = rowOf(m, a, seg, true);
          const p = pOf(row[b]);
          const rest = row[b] && typeof row[b] === "object" ? { ...row[b] } : {};
          delete rest.p; delete rest.delay;
          row[b] = d === undefined && !Object.keys(rest).length ? p : { p, ...(d === undefined ? {} : { delay: d }), ...rest };
        })));
      parts.push(el("p", { class: "hint" }, "An edge's own delay replaces the touchpoint's for the customers who take it."));
      parts.push(el("button", { type: "button", class: "danger", onclick: () => { edit((m) => { delete rowOf(m, a, seg, true)[b]; }); } }, "Remove this edge"));
    } else {
      parts.push(el("p", { class: "hint" }, "This row has no such edge for the customers chosen above."));
    }
    parts.push(el("h3", {}, `The row of ${a}`), ...rowEditor(a, b));
    parts.push(el("p", {}, el("button", { type: "button", onclick: () => select({ kind: "touchpoint", name: a }) }, `Edit ${a}`)));
    box.replaceChildren(...parts.filter(Boolean));
    return;
  }
  const name = sel.name;
  const A = () => S.map.touchpoints[name] || {};
  const stages = stageList(map);
  const stage = el("select", { "aria-label": "stage" },
    ...(map.stages && map.stages.length ? [] : [el("option", { value: "" }, "(none)")]),
    ...stages.map((s) => el("option", { value: s }, s)));
  bind(stage, () => A().stage || "");
  stage.addEventListener("change", () => edit((m) => {
    if (stage.value) attrs(m, name).stage = stage.value; else delete attrs(m, name).stage;
  }));
  const channel = el("input", { type: "text", "aria-label": "channel" });
  bind(channel, () => A().channel || "");
  channel.addEventListener("change", () => edit((m) => {
    if (channel.value.trim()) attrs(m, name).channel = channel.value; else delete attrs(m, name).channel;
  }));
  const goal = el("input", { type: "checkbox", "aria-label": "goal" });
  bind(goal, () => !!A().goal);
  goal.checked = !!A().goal;
  goal.addEventListener("change", () => edit((m) => {
    if (goal.checked) attrs(m, name).goal = true; else delete attrs(m, name).goal;
  }));
  const setNumber = (key) => (m, v) => { if (v === 0 && !(key in attrs(m, name))) return; attrs(m, name)[key] = v; };
  const parts = [
    el("h2", {}, name), refusalBox(),
    field("stage", stage), field("channel", channel), field("goal", goal),
    field("value", numberInput(() => A().value ?? 0, setNumber("value"))),
    field("refers", numberInput(() => A().refers ?? 0, setNumber("refers"), { step: "any" })),
    field("delay", delayEditor(() => A().delay, (m, d) => { if (d === undefined) delete attrs(m, name).delay; else attrs(m, name).delay = d; })),
  ];
  if (map.entry) {
    const [slider, box2] = probability(() => (S.map.entry || dict())[name] || 0, (m, v) => setEntryShare(m.entry, name, v), `entry:${name}`);
    parts.push(field("entry share", el("span", {}, slider, " ", box2)));
  }
  parts.push(el("h3", {}, "Next steps"), segmentPicker(), ...rowEditor(name, null));
  parts.push(el("p", {}, el("button", { type: "button", class: "danger", onclick: () => {
    S.selected = null;
    edit((m) => removeTouchpoint(m, name));
  } }, "Remove this touchpoint")));
  box.replaceChildren(...parts.filter(Boolean));
}

export function renderNewTouchpoint() {
  const name = el("input", { type: "text", "aria-label": "new touchpoint name", placeholder: "name" });
  const stages = stageList(S.map);
  const stage = el("select", { "aria-label": "stage" }, el("option", { value: "" }, "(no stage)"),
    ...stages.map((s) => el("option", { value: s }, s)));
  if (stages.length) stage.value = stages[0];
  const add = () => {
    const n = name.value;
    if (!n.trim()) { refuse(["a touchpoint needs a name"]); return; }
    if (S.map.touchpoints[n]) { refuse([`touchpoint '${n}' already exists`]); return; }
    S.pendingSelect = n;          // selected once the server has accepted it
    edit((m) => { m.touchpoints[n] = stage.value ? { stage: stage.value } : dict(); });
  };
  $("editor").replaceChildren(el("h2", {}, "New touchpoint"), refusalBox(), field("name", name), field("stage", stage),
    el("p", {}, el("button", { type: "button", onclick: add }, "Add"), " ",
      el("button", { type: "button", onclick: () => select(null) }, "Cancel")));
  name.focus();
}

export function updateToolbar() {
  $("undo").disabled = !S.history.length;
  $("redo").disabled = !S.future.length;
  const edited = S.map && JSON.stringify(S.map) !== JSON.stringify(S.baseline);
  $("save-map").disabled = !edited;
  $("save-hypothesis").disabled = !edited;
}
