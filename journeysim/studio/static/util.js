// Small helpers of the page: DOM nodes built from text (never parsed as HTML), number formats, the API.

export const TOKEN = document.querySelector('meta[name="studio-token"]').content;
export const $ = (id) => document.getElementById(id);
// Maps are keyed by user text: a touchpoint may be named "constructor" or "__proto__". Objects from the server
// (and their copies) have no prototype, so such a name is an ordinary key, never an inherited property.
export const plainKeys = (key, value) => (value && typeof value === "object" && !Array.isArray(value)
  ? Object.assign(Object.create(null), value) : value);
export const dict = () => Object.create(null);
export const clone = (x) => JSON.parse(JSON.stringify(x), plainKeys);
export const SVGNS = "http://www.w3.org/2000/svg";

export function el(tag, attrs = {}, ...children) {
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

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

export function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

export function signed(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Math.abs(x) < 1e-15) return "0";
  return (x > 0 ? "+" : "") + fmt(x);
}

export function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

export async function api(path, { method = "GET", body, write = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (write) headers["x-studio-token"] = TOKEN;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = JSON.parse(await res.text(), plainKeys); } catch { data = null; }
  return { ok: res.ok, status: res.status, data, etag: res.headers.get("etag"),
           errors: (data && data.errors) || (res.ok ? [] : [`${res.status} ${res.statusText}`]) };
}
