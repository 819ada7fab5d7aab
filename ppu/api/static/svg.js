// Small plain-SVG plotting: scales, ticks, axes, a frame. No libraries (labs are often offline).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children || []) {
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

function svgTitle(text) {
  return svgEl("title", {}, [text]);
}

// "Nice" tick values covering [lo, hi]: 1, 2 or 5 times a power of ten apart.
function niceTicks(lo, hi, count, minStep) {
  if (!isFinite(lo) || !isFinite(hi)) return [0, 1];
  if (hi <= lo) { hi = lo + 1; }
  const raw = (hi - lo) / Math.max(1, count || 5);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  if (minStep && step < minStep) step = minStep;
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks = [];
  for (let i = first; i <= Math.max(last, first + 1); i++) {
    const t = i * step;
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return ticks;
}

function fmtNum(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const d = digits || 3;
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(d - 1);
  return String(Number(v.toPrecision(d)));
}

// A plot frame: margins, x and y scales fitted to the data domain, grid and labelled axes.
function plotFrame(opts) {
  const W = opts.width || 560, H = opts.height || 260;
  const m = Object.assign({ l: 56, r: 14, t: 10, b: 38 }, opts.margin || {});
  const xt = niceTicks(opts.x[0], opts.x[1], opts.xTicks || 6, opts.xStep);
  const yt = niceTicks(opts.y[0], opts.y[1], opts.yTicks || 5);
  const x0 = opts.tightX ? opts.x[0] : xt[0], x1 = opts.tightX ? opts.x[1] : xt[xt.length - 1];
  const y0 = yt[0], y1 = yt[yt.length - 1];
  const sx = (v) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (v) => H - m.b - ((v - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label || "plot" });
  const grid = svgEl("g", { class: "grid" });
  const axis = svgEl("g", { class: "axis" });
  for (const t of yt) {
    grid.appendChild(svgEl("line", { x1: m.l, x2: W - m.r, y1: sy(t), y2: sy(t) }));
    axis.appendChild(svgEl("text", { x: m.l - 6, y: sy(t) + 4, "text-anchor": "end" }, [fmtNum(t)]));
  }
  for (const t of xt) {
    if (t < x0 - 1e-9 || t > x1 + 1e-9) continue;
    grid.appendChild(svgEl("line", { x1: sx(t), x2: sx(t), y1: m.t, y2: H - m.b }));
    axis.appendChild(svgEl("text", { x: sx(t), y: H - m.b + 15, "text-anchor": "middle" }, [fmtNum(t)]));
  }
  axis.appendChild(svgEl("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
  axis.appendChild(svgEl("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
  if (opts.xLabel) {
    axis.appendChild(svgEl("text", { x: (m.l + W - m.r) / 2, y: H - 4, "text-anchor": "middle" }, [opts.xLabel]));
  }
  if (opts.yLabel) {
    const cy = (m.t + H - m.b) / 2;
    axis.appendChild(svgEl("text", { x: 12, y: cy, "text-anchor": "middle", transform: `rotate(-90 12 ${cy})` }, [opts.yLabel]));
  }
  svg.appendChild(grid);
  svg.appendChild(axis);
  return { svg, sx, sy, W, H, m };
}

// Distinct, stable colours by name.
const PALETTE = ["#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#827717", "#4e342e", "#283593", "#c62828"];
function colourFor(name, known) {
  if (known && !(name in known)) known[name] = PALETTE[Object.keys(known).length % PALETTE.length];
  if (known) return known[name];
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}
