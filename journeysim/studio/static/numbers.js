// The numbers panel: every key of simulate --json (exact engine), baseline, edited and difference.
import { S } from "./state.js";
import { $, el, fmt, signed } from "./util.js";

export const LABELS = {
  conversion_rate: "conversion rate", expected_conversions: "conversions per customer",
  expected_value: "value per customer", expected_touches: "touches per customer",
  expected_time_to_conversion: "time to conversion", visit_rate: "visit rate by touchpoint",
  stage_reach: "funnel: reach by stage", removal_effects: "removal effects (share of conversions lost)",
  referrals: "referrals per customer (K)", customers_per_seed: "customers per seed customer",
  value_per_seed_customer: "value per seed customer",
};


export function label(key) {
  const unit = S.map && S.map.time_unit ? ` (${S.map.time_unit}s)` : " (days)";
  return (LABELS[key] || key.replace(/_/g, " ")) + (key === "expected_time_to_conversion" ? unit : "");
}

export function cells(base, cur) {
  const diff = typeof base === "number" && typeof cur === "number" ? cur - base : null;
  const rel = diff !== null && base !== 0 ? ` (${diff >= 0 ? "+" : ""}${(100 * diff / Math.abs(base)).toFixed(1)}%)` : "";
  return [
    el("td", { class: "baseline", "data-value": base ?? "" }, fmt(base)),
    el("td", { class: "edited", "data-value": cur ?? "" }, fmt(cur)),
    el("td", { class: "difference" + (diff > 1e-12 ? " up" : diff < -1e-12 ? " down" : "") },
      diff === null ? "–" : Math.abs(diff) < 1e-15 ? "0" : signed(diff) + rel),
  ];
}

export function flat(obj, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) out.push(...flat(v, `${prefix}${k} · `));
    else out.push([`${prefix}${k}`, v]);
  }
  return out;
}

export function renderMetrics() {
  const base = S.baseMetrics || {}, cur = S.metrics || {};
  const keys = [...new Set([...Object.keys(cur), ...Object.keys(base)])];
  const body = [], tables = [];
  for (const key of keys) {
    if (key === "warnings") continue;            // listed with the map's own warnings (graph.js)
    const b = base[key], c = cur[key];
    // A table's metric may be null on one side (removal effects on value once referrals are unbounded): still a table.
    const sample = c ?? b;
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
