// The journey as a graph: laid out by Graphviz's dot (WebAssembly), drawn as SVG with one element per
// touchpoint (data-touchpoint) and per edge (data-edge-from, data-edge-to).
import { renderEditor } from "./editor.js";
import { Graphviz } from "./vendor/graphviz.js";
import { edgePairs, pOf, rowOf, stageList, touchpoints } from "./model.js";
import { S } from "./state.js";
import { $, dict, el, fmt, svg } from "./util.js";


export const PALETTE = ["#dbe9f6", "#e3f1df", "#fdf0d5", "#f6dfe5", "#e8e1f5", "#dff3f1", "#f5e6d8", "#eceff3"];

let graphviz = null;

export function dotText(s) {
  return '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/[\r\n]+/g, " ") + '"';
}

export function shortName(name, goal) {
  const text = name.length > 26 ? name.slice(0, 25) + "…" : name;
  return goal ? "★ " + text : text;
}

export async function layout(map) {
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

export function drawGraph() {
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

export function isSelected(kind, a, b) {
  const s = S.selected;
  if (!s || s.kind !== kind) return false;
  return kind === "touchpoint" ? s.name === a : s.from === a && s.to === b;
}

export function select(sel) {
  S.selected = sel;
  S.refusal = null;
  drawGraph();
  renderEditor();
}

export function renderWarnings() {
  // The engine's (a metric undefined or unbounded: why the panel shows –) and the map's (unreachable touchpoints...).
  const all = [...((S.metrics && S.metrics.warnings) || []), ...S.warnings];
  $("warnings").replaceChildren(...all.map((w) => el("li", {}, w)));
}
