// journeysim studio: the page. Everything it shows comes from the HTTP API; names are only ever
// set as text or attribute values (never parsed as HTML), so any touchpoint name is safe to show.
import { Graphviz } from "./vendor/graphviz.js";

const TOKEN = document.querySelector('meta[name="studio-token"]').content;
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
// Maps are keyed by user text: a touchpoint may be named "constructor" or "__proto__". Objects from the server
// (and their copies) have no prototype, so such a name is an ordinary key, never an inherited property.
const plainKeys = (key, value) => (value && typeof value === "object" && !Array.isArray(value)
  ? Object.assign(Object.create(null), value) : value);
const dict = () => Object.create(null);
const clone = (x) => JSON.parse(JSON.stringify(x), plainKeys);
const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#dbe9f6", "#e3f1df", "#fdf0d5", "#f6dfe5", "#e8e1f5", "#dff3f1", "#f5e6d8", "#eceff3"];
const LABELS = {
  conversion_rate: "conversion rate", expected_conversions: "conversions per customer",
  expected_value: "value per customer", expected_touches: "touches per customer",
  expected_time_to_conversion: "time to conversion", visit_rate: "visit rate by touchpoint",
  stage_reach: "funnel: reach by stage", removal_effects: "removal effects (share of conversions lost)",
  referrals: "referrals per customer (K)", customers_per_seed: "customers per seed customer",
  value_per_seed_customer: "value per seed customer",
};

const S = {
  name: null, revision: null, baseline: null, map: null, baseMetrics: null, metrics: null, flows: null,
  warnings: [], history: [], future: [], group: null, selected: null, segment: "", layout: null, layoutKey: null,
  hypothesis: null, job: null, refusal: null, entries: [], pendingSelect: null,
};

// -- small helpers ----------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

function signed(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Math.abs(x) < 1e-15) return "0";
  return (x > 0 ? "+" : "") + fmt(x);
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function api(path, { method = "GET", body, write = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (write) headers["x-studio-token"] = TOKEN;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = JSON.parse(await res.text(), plainKeys); } catch { data = null; }
  return { ok: res.ok, status: res.status, data, etag: res.headers.get("etag"),
           errors: (data && data.errors) || (res.ok ? [] : [`${res.status} ${res.statusText}`]) };
}

// -- the map in file form -----------------------------------------------------------------------

const touchpoints = (map) => Object.keys(map.touchpoints || {});
const attrs = (map, name) => (map.touchpoints[name] ??= dict());
const pOf = (spec) => (spec !== null && typeof spec === "object" ? Number(spec.p) : Number(spec));

function stageList(map) {
  const stages = [...(map.stages || [])];
  for (const n of touchpoints(map)) {
    const s = (map.touchpoints[n] || {}).stage;
    if (s && !stages.includes(s)) stages.push(s);
  }
  return stages;
}

function rowOf(map, a, segment, create = false) {
  const base = (map.transitions || dict())[a] || dict();
  if (segment) {
    const seg = map.segments[segment];
    const own = seg.transitions && seg.transitions[a];
    if (own || !create) return own || base;
    seg.transitions ??= dict();
    seg.transitions[a] = clone(base);
    return seg.transitions[a];
  }
  if (!create) return base;
  map.transitions ??= dict();
  return (map.transitions[a] ??= dict());
}

function setP(row, b, p) {
  if (row[b] !== null && typeof row[b] === "object") row[b].p = p;
  else row[b] = p;
}

function remainder(row) {
  let total = 0;
  for (const spec of Object.values(row)) total += pOf(spec) || 0;
  return 1 - total;
}

function edgePairs(map) {
  const pairs = new Map();
  const add = (rows, segmentOnly) => {
    for (const [a, row] of Object.entries(rows || {})) {
      for (const b of Object.keys(row || {})) {
        if (b === "exit") continue;
        const key = `${a}\u0000${b}`;
        if (!pairs.has(key)) pairs.set(key, { from: a, to: b, segmentOnly });
      }
    }
  };
  add(map.transitions, false);
  for (const seg of Object.values(map.segments || {})) add(seg.transitions, true);
  return [...pairs.values()];
}

function structureKey(map) {
  return JSON.stringify([touchpoints(map).map((n) => [n, (map.touchpoints[n] || {}).stage || "",
    !!(map.touchpoints[n] || {}).goal]), stageList(map), edgePairs(map).map((e) => [e.from, e.to])]);
}

function removeTouchpoint(map, name) {
  delete map.touchpoints[name];
  const dropFrom = (rows) => {
    if (!rows) return;
    delete rows[name];
    for (const row of Object.values(rows)) if (row) delete row[name];
  };
  const dropEntry = (entry) => {
    if (!entry || !(name in entry)) return;
    const share = entry[name];
    delete entry[name];
    const rest = Object.values(entry).reduce((s, v) => s + v, 0);
    // The removed touchpoint's new customers go to the other ways in, in proportion.
    if (rest > 0) for (const k of Object.keys(entry)) entry[k] = entry[k] * (rest + share) / rest;
  };
  dropFrom(map.transitions);
  dropEntry(map.entry);
  for (const seg of Object.values(map.segments || {})) { dropFrom(seg.transitions); dropEntry(seg.entry); }
  if (map.observations) delete map.observations[name];
}

function setEntryShare(entry, name, share) {
  const others = Object.keys(entry).filter((k) => k !== name);
  const rest = others.reduce((s, k) => s + entry[k], 0);
  if (rest > 0) for (const k of others) entry[k] = entry[k] * (1 - share) / rest;
  entry[name] = share;
}

// -- editing: every edit is checked by the server before it is kept -----------------------------

const queue = [];
let pumping = false;

function edit(mutate, group = null) {
  const last = queue[queue.length - 1];
  if (group && last && last.group === group) last.mutate = mutate;   // a slider's stream: only its latest value
  else queue.push({ mutate, group });
  if (!pumping) pump();
}

async function pump() {
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

function refuse(messages) {
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

async function afterChange({ editor = false } = {}) {
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

async function undo(from, to) {
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

function stillThere(sel) {
  if (sel.kind === "touchpoint") return sel.name in S.map.touchpoints;
  return sel.from in rowOf(S.map, sel.from, S.segment);
}

// -- the graph ----------------------------------------------------------------------------------

let graphviz = null;

function dotText(s) {
  return '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/[\r\n]+/g, " ") + '"';
}

function shortName(name, goal) {
  const text = name.length > 26 ? name.slice(0, 25) + "…" : name;
  return goal ? "★ " + text : text;
}

async function layout(map) {
  graphviz ??= await Graphviz.load();
  const names = touchpoints(map);
  const id = new Map(names.map((n, i) => [n, `n${i}`]));
  const stages = stageList(map);
  const unstaged = names.some((n) => !(map.touchpoints[n] || {}).stage);
  const bands = stages.length ? [...stages, ...(unstaged ? [null] : [])] : [];
  const bandOf = (n) => (bands.length ? bands.indexOf((map.touchpoints[n] || {}).stage || null) : -1);
  const lines = ["digraph journey {", "rankdir=LR; nodesep=0.3; ranksep=0.55; newrank=true;",
    'node [shape=box, style=rounded, fontname="Helvetica", fontsize=11, height=0.36, margin="0.12,0.05"];',
    'edge [fontname="Helvetica", fontsize=9];'];
  // Invisible anchors keep each stage's touchpoints in their own band, bands in the stages' order.
  bands.forEach((_, i) => lines.push(`s${i} [shape=point, style=invis, width=0, height=0, label=""];`));
  if (bands.length) lines.push(`s${bands.length} [shape=point, style=invis, width=0, height=0, label=""];`);
  for (let i = 0; i < bands.length; i++) lines.push(`s${i} -> s${i + 1} [style=invis];`);
  names.forEach((n) => {
    const a = map.touchpoints[n] || {};
    lines.push(`${id.get(n)} [label=${dotText(shortName(n, a.goal))}];`);
    const b = bandOf(n);
    if (b >= 0) lines.push(`s${b} -> ${id.get(n)} [style=invis, minlen=0]; ${id.get(n)} -> s${b + 1} [style=invis];`);
  });
  for (const e of edgePairs(map)) {
    if (!id.has(e.from) || !id.has(e.to)) continue;
    const back = bands.length && bandOf(e.to) < bandOf(e.from);
    lines.push(`${id.get(e.from)} -> ${id.get(e.to)} [label="0.000"${back ? ", constraint=false" : ""}];`);
  }
  lines.push("}");
  const out = JSON.parse(graphviz.layout(lines.join("\n"), "json0", "dot"));
  const [, , width, height] = out.bb.split(",").map(Number);
  const nodes = new Map();
  const byGvid = new Map();
  for (const obj of out.objects || []) {
    byGvid.set(obj._gvid, obj.name);
    if (!obj.name.startsWith("n") || !obj.pos) continue;
    const [x, y] = obj.pos.split(",").map(Number);
    nodes.set(names[Number(obj.name.slice(1))], { x, y: height - y, w: Number(obj.width) * 72, h: Number(obj.height) * 72 });
  }
  const edges = new Map();
  for (const e of out.edges || []) {
    const a = byGvid.get(e.tail), b = byGvid.get(e.head);
    if (!a.startsWith("n") || !b.startsWith("n") || !e.pos) continue;
    let end = null;
    const points = [];
    for (const token of e.pos.split(/\s+/)) {
      const parts = token.split(",");
      if (parts[0] === "e") end = [Number(parts[1]), height - Number(parts[2])];
      else if (parts[0] !== "s") points.push([Number(parts[0]), height - Number(parts[1])]);
    }
    const lp = e.lp ? e.lp.split(",").map(Number) : null;
    edges.set(`${names[Number(a.slice(1))]}\u0000${names[Number(b.slice(1))]}`,
      { points, end, label: lp ? [lp[0], height - lp[1]] : null });
  }
  return { nodes, edges, width, height, bands, bandOf };
}

function drawGraph() {
  const L = S.layout;
  const box = $("graph");
  if (!L) { box.replaceChildren(); return; }
  const map = S.map;
  const top = 26;
  const w = L.width + 16, h = L.height + top + 10;
  // Fit the pane's width: small maps are drawn larger, wide ones smaller (down to 0.6, then they scroll).
  const zoom = Math.max(0.6, Math.min(1.5, (box.clientWidth - 8) / w));
  const root = svg("svg", { width: (w * zoom).toFixed(0), height: (h * zoom).toFixed(0), viewBox: `-8 ${-top} ${w} ${h}`,
                            role: "img", "aria-label": "The journey by stage" });
  // Stage bands behind everything.
  L.bands.forEach((stage, i) => {
    const members = [...L.nodes.entries()].filter(([n]) => L.bandOf(n) === i).map(([, p]) => p);
    if (!members.length) return;
    const x0 = Math.min(...members.map((p) => p.x - p.w / 2)) - 8;
    const x1 = Math.max(...members.map((p) => p.x + p.w / 2)) + 8;
    root.append(svg("rect", { class: "stage-band", x: x0, y: -top + 2, width: x1 - x0, height: L.height + top, rx: 6 }));
    root.append(svg("text", { class: "stage-title", x: x0 + 6, y: -top + 16 }, stage === null ? "(no stage)" : stage));
  });
  const flows = S.flows || new Map();
  const widest = Math.max(1e-12, ...flows.values());
  const pairs = edgePairs(map);
  for (const e of pairs) {
    const geo = L.edges.get(`${e.from}\u0000${e.to}`);
    if (!geo || !geo.points.length) continue;
    const flow = flows.get(`${e.from}\u0000${e.to}`) || 0;
    const width = 0.8 + 8 * flow / widest;
    const pts = geo.points;
    let d = `M${pts[0][0]},${pts[0][1]}`;
    for (let i = 1; i + 2 < pts.length; i += 3) d += ` C${pts[i]} ${pts[i + 1]} ${pts[i + 2]}`;
    const g = svg("g", { class: "edge" + (flow > 0 ? "" : " idle") + (e.segmentOnly ? " segment-only" : "") +
                          (isSelected("edge", e.from, e.to) ? " selected" : ""),
                         "data-edge-from": e.from, "data-edge-to": e.to, tabindex: 0 });
    const last = pts[pts.length - 1];
    if (geo.end) d += ` L${geo.end[0]},${geo.end[1]}`;
    g.append(svg("path", { class: "hit", d }), svg("path", { class: "line", d, "stroke-width": width.toFixed(2) }));
    if (geo.end) {
      const [ex, ey] = geo.end;
      const len = Math.hypot(ex - last[0], ey - last[1]) || 1;
      const ux = (ex - last[0]) / len, uy = (ey - last[1]) / len;
      const size = 7 + width * 0.5;
      const bx = ex - ux * size, by = ey - uy * size;
      g.append(svg("polygon", { class: "head", points: `${ex},${ey} ${bx - uy * size * 0.45},${by + ux * size * 0.45} ${bx + uy * size * 0.45},${by - ux * size * 0.45}` }));
    }
    const row = rowOf(map, e.from, S.segment);
    const p = e.to in row ? pOf(row[e.to]) : null;
    if (geo.label) g.append(svg("text", { x: geo.label[0], y: geo.label[1] + 3, "text-anchor": "middle" }, p === null ? "–" : fmt(p)));
    g.append(svg("title", {}, `${e.from} → ${e.to}: p ${p === null ? "(in a segment only)" : fmt(p)}, ` +
                               `${fmt(flow)} traversals per new customer`));
    g.addEventListener("click", () => select({ kind: "edge", from: e.from, to: e.to }));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select({ kind: "edge", from: e.from, to: e.to }); });
    root.append(g);
  }
  for (const [name, p] of L.nodes) {
    const a = map.touchpoints[name] || {};
    const band = L.bandOf(name);
    const g = svg("g", { class: "touchpoint" + (a.goal ? " goal" : "") + (isSelected("touchpoint", name) ? " selected" : ""),
                         "data-touchpoint": name, transform: `translate(${p.x},${p.y})`, tabindex: 0 });
    g.append(svg("rect", { x: -p.w / 2, y: -p.h / 2, width: p.w, height: p.h, rx: 7,
                           fill: band >= 0 ? PALETTE[band % PALETTE.length] : "#eef1f5" }));
    g.append(svg("text", { y: 4, "text-anchor": "middle" }, shortName(name, a.goal)));
    const entry = (map.entry || dict())[name];
    if (entry) g.append(svg("text", { class: "entry-mark", x: -p.w / 2, y: -p.h / 2 - 3 }, `▸ entry ${fmt(entry)}`));
    const facts = [name, a.stage ? `stage: ${a.stage}` : null, a.goal ? `goal, value ${fmt(a.value || 0)}` : null,
      S.metrics && S.metrics.visit_rate ? `visit rate ${fmt(S.metrics.visit_rate[name])}` : null].filter(Boolean);
    g.append(svg("title", {}, facts.join("\n")));
    g.addEventListener("click", () => select({ kind: "touchpoint", name }));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select({ kind: "touchpoint", name }); });
    root.append(g);
  }
  box.replaceChildren(root);
}

function isSelected(kind, a, b) {
  const s = S.selected;
  if (!s || s.kind !== kind) return false;
  return kind === "touchpoint" ? s.name === a : s.from === a && s.to === b;
}

function select(sel) {
  S.selected = sel;
  S.refusal = null;
  drawGraph();
  renderEditor();
}

function renderWarnings() {
  $("warnings").replaceChildren(...S.warnings.map((w) => el("li", {}, w)));
}

// -- the numbers --------------------------------------------------------------------------------

function label(key) {
  const unit = S.map && S.map.time_unit ? ` (${S.map.time_unit}s)` : " (days)";
  return (LABELS[key] || key.replace(/_/g, " ")) + (key === "expected_time_to_conversion" ? unit : "");
}

function cells(base, cur) {
  const diff = typeof base === "number" && typeof cur === "number" ? cur - base : null;
  const rel = diff !== null && base !== 0 ? ` (${diff >= 0 ? "+" : ""}${(100 * diff / Math.abs(base)).toFixed(1)}%)` : "";
  return [
    el("td", { class: "baseline", "data-value": base ?? "" }, fmt(base)),
    el("td", { class: "edited", "data-value": cur ?? "" }, fmt(cur)),
    el("td", { class: "difference" + (diff > 1e-12 ? " up" : diff < -1e-12 ? " down" : "") },
      diff === null ? "–" : Math.abs(diff) < 1e-15 ? "0" : signed(diff) + rel),
  ];
}

function flat(obj, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) out.push(...flat(v, `${prefix}${k} · `));
    else out.push([`${prefix}${k}`, v]);
  }
  return out;
}

function renderMetrics() {
  const base = S.baseMetrics || {}, cur = S.metrics || {};
  const keys = [...new Set([...Object.keys(cur), ...Object.keys(base)])];
  const body = [], tables = [];
  for (const key of keys) {
    const b = base[key], c = cur[key];
    const sample = c !== undefined ? c : b;
    if (sample === null || typeof sample === "number") {
      body.push(el("tr", { "data-metric": key }, el("th", {}, label(key)), ...cells(b, c)));
    } else if (typeof sample === "object") {
      const bRows = new Map(flat(b)), cRows = new Map(flat(c));
      let names = [...new Set([...cRows.keys(), ...bRows.keys()])];
      if (key === "removal_effects") names.sort((x, y) => (cRows.get(y) ?? 0) - (cRows.get(x) ?? 0));
      const rows = names.map((n) => el("tr", { "data-item": n }, el("td", { class: "name" }, n), ...cells(bRows.get(n), cRows.get(n))));
      const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "baseline"),
        el("th", {}, "edited"), el("th", {}, "difference"))), el("tbody", {}, rows));
      tables.push(el("details", { "data-metric": key, open: key !== "visit_rate" }, el("summary", {}, label(key)), table));
    } else if (typeof sample === "string") {
      tables.push(el("p", { class: "hint", "data-metric": key }, `${key.replace(/_/g, " ")}: ${sample}`));
    }
  }
  $("metrics").tBodies[0].replaceChildren(...body);
  $("metric-tables").replaceChildren(...tables);
  const errors = S.metrics ? [] : ["the map as it stands does not validate"];
  $("map-errors").hidden = !errors.length;
  $("map-errors").textContent = errors.join("\n");
}

// -- the editor ---------------------------------------------------------------------------------

const bound = [];   // [input, read] pairs refreshed after each accepted edit

function bind(input, read) {
  bound.push([input, read]);
  input.value = read();
  return input;
}

function syncEditor() {
  for (const [input, read] of bound) {
    if (document.activeElement === input && input.type !== "range") continue;
    const value = read();
    if (input.type === "checkbox") input.checked = !!value; else if (input.value !== String(value)) input.value = value;
  }
}

function numberInput(read, write, { min = 0, max, step = "any", group } = {}) {
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

function probability(read, write, group) {
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

function delayEditor(read, write) {
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
    edit((map) => write(map, kind === "none" ? undefined : kind === "exponential" ? m
      : (kind === "fixed" ? { dist: kind, mean: m } : { dist: kind, mean: m, sd: s ?? m })));
  };
  for (const c of [dist, mean, sd]) c.addEventListener("change", apply);
  return el("span", { class: "delay" }, dist, mean, sd);
}

function field(name, control) {
  return el("div", { class: "field" }, el("span", {}, name), control);
}

function refusalBox() {
  return el("p", { class: "refusal", role: "alert", "data-refusal": "", hidden: !S.refusal },
    S.refusal ? S.refusal.join("\n") : "");
}

function segmentPicker() {
  const segments = Object.keys(S.map.segments || {});
  if (!segments.length) return null;
  const pick = el("select", { "aria-label": "whose row" }, el("option", { value: "" }, "all customers (the map's rows)"),
    ...segments.map((s) => el("option", { value: s }, `segment: ${s}`)));
  pick.value = S.segment;
  pick.addEventListener("change", () => { S.segment = pick.value; drawGraph(); renderEditor(); });
  return field("row of", pick);
}

function rowEditor(a, focus) {
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

function renderEditor() {
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

function renderNewTouchpoint() {
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

// -- toolbar, saving ----------------------------------------------------------------------------

function updateToolbar() {
  $("undo").disabled = !S.history.length;
  $("redo").disabled = !S.future.length;
  const edited = S.map && JSON.stringify(S.map) !== JSON.stringify(S.baseline);
  $("save-map").disabled = !edited;
  $("save-hypothesis").disabled = !edited;
}

async function saveMap() {
  const res = await api("/api/save", { method: "POST", write: true, body: { name: S.name, map: S.map, revision: S.revision } });
  if (!res.ok) { status(res.errors.join("; "), true); return; }
  S.revision = res.data.revision;
  S.baseline = clone(S.map);
  S.baseMetrics = S.metrics;
  renderMetrics();
  updateToolbar();
  status(`saved ${res.data.saved} (the previous version is ${res.data.backup})`);
}

// -- hypothesis ---------------------------------------------------------------------------------

function defaultHypothesisName() {
  const stem = S.name.replace(/\.(ya?ml|json)$/i, "");
  const base = stem.split("/").pop();
  const folder = S.entries.some((e) => e.kind === "hypothesis" && e.name.startsWith("hypotheses/")) ? "hypotheses/" : stem.includes("/") ? stem.slice(0, stem.lastIndexOf("/") + 1) : "";
  let n = 1, name;
  do { name = `${folder}${base}-edits${n > 1 ? "-" + n : ""}.yaml`; n++; } while (S.entries.some((e) => e.name === name));
  return name;
}

function uncertainSpecs() {
  const out = [];
  for (const input of $("hyp-numbers").querySelectorAll("input[data-path]")) {
    if (input.value.trim()) out.push({ path: JSON.parse(input.dataset.path), spec: input.value });
  }
  return out;
}

async function draftHypothesis() {
  const res = await api("/api/hypothesis", { method: "POST", body: {
    name: S.name, revision: S.revision, map: S.map, save_as: $("hyp-name").value, title: $("hyp-title").value,
    metric: $("hyp-metric").value, uncertain: uncertainSpecs() } });
  $("hyp-errors").hidden = res.ok;
  $("hyp-errors").textContent = res.errors.join("\n");
  $("hyp-write").disabled = !res.ok;
  if (res.ok) $("hyp-preview").textContent = res.data.yaml;
  return res;
}

async function openHypothesisPane() {
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

async function writeHypothesis() {
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

function openPrediction(name) {
  S.hypothesis = name;
  S.job = null;
  $("prediction-pane").hidden = false;
  $("pred-hypothesis").textContent = name;
  $("pred-result").hidden = true;
  $("pred-errors").hidden = true;
  $("pred-progress").hidden = true;
  $("prediction-pane").scrollIntoView({ block: "nearest" });
}

async function runPrediction() {
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

function interval(pair, f = fmt) {
  return pair && pair[0] !== null ? `[${f(pair[0])}, ${f(pair[1])}]` : "–";
}

function showPrediction(data) {
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

async function designTest() {
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

// -- pages --------------------------------------------------------------------------------------

function renderList(list) {
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

async function openMap(name) {
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

function keyboard(ev) {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName) && document.activeElement.type !== "range";
  if (!(ev.ctrlKey || ev.metaKey) || typing) return;
  const key = ev.key.toLowerCase();
  if (key === "z" && !ev.shiftKey) { ev.preventDefault(); undo(S.history, S.future); }
  else if ((key === "z" && ev.shiftKey) || key === "y") { ev.preventDefault(); undo(S.future, S.history); }
}

async function main() {
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
