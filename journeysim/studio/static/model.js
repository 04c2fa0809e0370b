// The map in file form (as GET /api/map gives it): its touchpoints, rows, stages and edits to them.
import { clone, dict } from "./util.js";

export const touchpoints = (map) => Object.keys(map.touchpoints || {});
export const attrs = (map, name) => (map.touchpoints[name] ??= dict());
export const pOf = (spec) => (spec !== null && typeof spec === "object" ? Number(spec.p) : Number(spec));

export function stageList(map) {
  const stages = [...(map.stages || [])];
  for (const n of touchpoints(map)) {
    const s = (map.touchpoints[n] || {}).stage;
    if (s && !stages.includes(s)) stages.push(s);
  }
  return stages;
}

export function rowOf(map, a, segment, create = false) {
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

export function setP(row, b, p) {
  if (row[b] !== null && typeof row[b] === "object") row[b].p = p;
  else row[b] = p;
}

export function remainder(row) {
  let total = 0;
  for (const spec of Object.values(row)) total += pOf(spec) || 0;
  return 1 - total;
}

export function edgePairs(map) {
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

export function structureKey(map) {
  return JSON.stringify([touchpoints(map).map((n) => [n, (map.touchpoints[n] || {}).stage || "",
    !!(map.touchpoints[n] || {}).goal]), stageList(map), edgePairs(map).map((e) => [e.from, e.to])]);
}

export function removeTouchpoint(map, name) {
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

export function setEntryShare(entry, name, share) {
  const others = Object.keys(entry).filter((k) => k !== name);
  const rest = others.reduce((s, k) => s + entry[k], 0);
  if (rest > 0) for (const k of others) entry[k] = entry[k] * (1 - share) / rest;
  entry[name] = share;
}
