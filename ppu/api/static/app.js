// The dashboard page: reads the JSON API, follows /api/stream, and re-reads what changed.
// Every section redraws from the API on its own, so rows appearing live (or missed stream
// events) never leave the page inconsistent: an event only says which sections to re-read.
"use strict";

const page = {
  campaign: null,
  token: sessionStorage.getItem("ppu-token") || "",
  operator: sessionStorage.getItem("ppu-operator") || "",
  stream: null,
  dirty: new Set(),
  timer: null,
  busy: false,
  pinned: false,
  kernelColours: {},
  gasColours: { CO2: "#c62828", N2: "#1565c0" },
};

const SECTIONS = ["header", "instruments", "pending", "timeline", "isotherms", "progress", "queue", "samples", "audit"];
// which sections each stream event makes stale
const STALE = {
  launch: ["header", "instruments", "timeline", "queue", "samples"],
  measurement: ["isotherms"],
  experiment: ["header", "progress", "pending"],
  command: ["audit", "header", "instruments"],
  step: ["pending"],
  instrument: ["instruments"],
  campaign: ["header", "timeline"],
};

// -- small helpers ---------------------------------------------------------------------------
function $(sel) { return document.querySelector(sel); }

function h(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children || []) {
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

function badge(state) { return h("span", { class: `badge ${state}`, text: state }); }

function empty(text) { return h("div", { class: "empty", text }); }

function fmtQ(q) {
  if (q === null || q === undefined) return "–";
  if (typeof q !== "object") return String(q);
  if (!("value" in q)) return JSON.stringify(q);
  return `${fmtNum(q.value)}${q.unit ? " " + q.unit : ""}`;
}

function hours(s) { return s === null || s === undefined ? "–" : `${(s / 3600).toFixed(1)} h`; }

function clock(wall) {
  if (!wall) return "–";
  return new Date(wall * 1000).toLocaleTimeString([], { hour12: false });
}

function params(obj) {
  if (!obj) return "";
  return Object.entries(obj).map(([k, v]) => `${k} ${fmtQ(v)}`).join(", ");
}

function toast(text, bad) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "show" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, 3500);
}

function authHeaders() {
  const hd = {};
  if (page.token) hd.Authorization = `Bearer ${page.token}`;
  if (page.operator) hd["X-Operator"] = page.operator;
  return hd;
}

async function api(path) {
  const r = await fetch(path, { headers: authHeaders(), cache: "no-store" });
  if (r.status === 401) throw new Error("reading needs the token (press Token)");
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

function cq() { return page.campaign ? `campaign=${encodeURIComponent(page.campaign)}` : ""; }

// -- the token ------------------------------------------------------------------------------
function askToken(why) {
  const dlg = $("#token-dialog");
  $("#token-input").value = page.token;
  $("#operator-input").value = page.operator;
  if (why) $("#token-why").textContent = why;
  return new Promise((resolve) => {
    dlg.onclose = () => {
      if (dlg.returnValue === "ok" && $("#token-input").value.trim()) {
        page.token = $("#token-input").value.trim();
        page.operator = $("#operator-input").value.trim();
        sessionStorage.setItem("ppu-token", page.token);
        sessionStorage.setItem("ppu-operator", page.operator);
        showToken();
        resolve(true);
      } else {
        resolve(false);
      }
    };
    dlg.returnValue = "";
    dlg.showModal();
  });
}

function showToken() {
  $("#token-button").textContent = page.token ? `Token ✓${page.operator ? " (" + page.operator + ")" : ""}` : "Token";
}

// -- control: every action is a Command row the runtime carries out -------------------------
async function control(path, label, body) {
  if (!page.token && !(await askToken())) return;
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = Object.assign({ "Content-Type": "application/json" }, authHeaders());
    const r = await fetch(path, { method: "POST", headers, body: body ? JSON.stringify(body) : undefined });
    if (r.status === 401) {
      page.token = "";
      sessionStorage.removeItem("ppu-token");
      showToken();
      if (!(await askToken("That token was refused. Enter the token the server printed."))) return;
      continue;
    }
    const data = await r.json().catch(() => ({}));
    if (r.ok) {
      toast(`${label}: queued as command ${data.id}, the runtime will act on it`);
    } else {
      toast(`${label}: ${typeof data.detail === "string" ? data.detail : r.status}`, true);
    }
    markStale(["audit", "header", "instruments", "pending"]);
    return data;
  }
}

function actionButton(label, path, cls, body) {
  return h("button", {
    class: cls || "small",
    "data-action": path.split("/").pop(),
    onclick: (ev) => { ev.preventDefault(); control(path, label, body); },
  }, [label.split(" ")[0]]);
}

// -- sections -------------------------------------------------------------------------------
const render = {
  async header() {
    const all = await api("/api/campaigns");
    const sel = $("#campaign");
    const ids = all.map((c) => c.id);
    const current = all.find((c) => c.id === page.campaign);
    const over = current && ["done", "aborted", "failed"].includes(current.state);
    // follow the newest campaign unless someone picked one by hand
    if (!page.campaign || !current || (over && !page.pinned && ids[0] !== page.campaign)) {
      const previous = page.campaign;
      page.campaign = ids[0] || null;
      if (previous !== page.campaign) { if (page.stream) follow(); markStale(SECTIONS); }
    }
    // several controllers may write one store: the picker marks the campaigns running now
    const label = (c) => `${c.id} (${c.name})${c.controller ? " · live" : ""}`;
    if (sel.options.length !== all.length || [...sel.options].some((o, i) => o.value !== ids[i])) {
      sel.replaceChildren(...all.map((c) => h("option", { value: c.id, text: label(c) })));
    }
    all.forEach((c, i) => { if (sel.options[i].text !== label(c)) sel.options[i].text = label(c); });
    sel.value = page.campaign || "";
    const c = all.find((x) => x.id === page.campaign);
    const st = $("#campaign-state");
    if (!c) { st.textContent = "no campaign yet"; st.className = "badge"; return; }
    st.textContent = c.state;
    st.className = `badge ${c.state}`;
    $("#lab-time").textContent = `${hours(c.virtual_t_s)} lab time`;
    const n = Object.values(c.experiments).reduce((a, b) => a + b, 0);
    const parts = Object.entries(c.experiments).map(([k, v]) => `${v} ${k.toLowerCase()}`);
    $("#experiments-count").textContent = `${n} experiments${parts.length ? ": " + parts.join(", ") : ""}`;
    const gone = !c.controller && ["running", "paused"].includes(c.state);
    // alive (it holds the campaign's lock) but silent: its loop is stuck
    const silent = c.controller && c.heartbeat_age_s !== null && c.heartbeat_age_s > 30;
    $("#controller").textContent = silent
      ? `${c.controller}: no word for ${Math.round(c.heartbeat_age_s)} s (hung?)`
      : c.controller ? `run by ${c.controller}` : gone ? "no controller" : "";
    $("#controller").className = gone || silent ? "warn small" : "muted small";
  },

  async instruments() {
    const box = $("#instruments");
    const list = await api(`/api/instruments?${cq()}`);
    if (!list.length) { box.replaceChildren(empty("no instruments known yet")); return; }
    box.replaceChildren(...list.map((i) => h("div", { class: `instrument ${i.state}`, "data-name": i.name }, [
      h("div", { class: "row" }, [h("span", { class: "name", text: i.name }), badge(i.state)]),
      h("div", { class: "muted small", text: i.roles.join(", ") || " " }),
      h("div", { class: "small", text: i.kernel ? `running ${i.kernel} (launch ${i.launch_id})` : "idle" }),
      h("div", { class: "muted small", text: `busy ${hours(i.busy_s)}, faults ${i.faults}${i.source === "launches" ? " · from launches" : ""}` }),
      h("div", { class: "row" }, [
        i.state === "held"
          ? actionButton(`release ${i.name}`, `/api/instruments/${encodeURIComponent(i.name)}/release`)
          : actionButton(`hold ${i.name}`, `/api/instruments/${encodeURIComponent(i.name)}/hold`),
      ]),
    ])));
  },

  async pending() {
    if (!page.campaign) return;
    const [props, steps] = await Promise.all([
      api(`/api/suggestions?${cq()}&status=awaiting_approval`),
      api(`/api/steps?${cq()}&state=waiting`),
    ]);
    const ap = $("#approvals");
    ap.replaceChildren(...(props.length ? props.map((e) => {
      const s = e.suggestion || {};
      const pred = s.predicted_mean !== undefined && s.predicted_mean !== null
        ? ` · predicted ${fmtNum(s.predicted_mean)} ± ${fmtNum(s.predicted_sd)}` : "";
      return h("li", { "data-experiment": e.id }, [
        h("div", {}, [h("b", { text: `experiment ${e.number}` }), " ", badge(e.status)]),
        h("div", { class: "params", text: params(e.params) }),
        h("div", { class: "params", text: `${s.engine || "planner"}${s.acquisition ? " · " + s.acquisition : ""}${pred}` }),
        h("div", { class: "actions" }, [
          actionButton(`approve experiment ${e.number}`, `/api/suggestions/${e.id}/approve`, "small primary"),
          actionButton(`reject experiment ${e.number}`, `/api/suggestions/${e.id}/reject`, "small danger"),
        ]),
      ]);
    }) : [h("li", {}, [empty("nothing to approve")])]));
    const sp = $("#steps");
    sp.replaceChildren(...(steps.length ? steps.map((st) => h("li", { "data-step": st.id }, [
      h("div", {}, [h("b", { text: st.instrument || "lab" }), ` · launch ${st.launch_id ?? "–"} · since ${hours(st.created_v_s)}`]),
      h("div", { text: st.text }),
      h("div", { class: "actions" }, [actionButton(`confirm step ${st.id}`, `/api/steps/${st.id}/confirm`, "small primary")]),
    ])) : [h("li", {}, [empty("no manual steps waiting")])]));
  },

  async timeline() {
    const box = $("#timeline");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const t = await api(`/api/campaigns/${encodeURIComponent(page.campaign)}/timeline`);
    const lanes = t.instruments.length ? t.instruments : [...new Set(t.bars.map((b) => b.instrument))];
    if (!lanes.length) { box.replaceChildren(empty("nothing has run yet")); return; }
    const end = Math.max(t.now_v_s, ...t.bars.map((b) => b.end_v_s), 3600) / 3600;
    const rowH = 26, top = 8;
    const H = top + lanes.length * rowH + 40;
    const f = plotFrame({
      width: 1100, height: H, x: [0, end * 1.01], y: [0, 1], tightX: true, xLabel: "virtual lab time (h)",
      margin: { l: 96, t: top, b: 38 }, label: "timeline", xTicks: 10, yTicks: 1,
    });
    f.svg.querySelector(".grid").querySelectorAll("line").forEach((l) => {
      if (l.getAttribute("y1") === l.getAttribute("y2")) l.remove();
    });
    f.svg.querySelector(".axis").querySelectorAll("text").forEach((tx) => {
      if (tx.getAttribute("text-anchor") === "end") tx.remove();
    });
    const rowY = (i) => top + i * rowH;
    const g = svgEl("g", { class: "lanes" });
    lanes.forEach((name, i) => {
      g.appendChild(svgEl("text", { x: f.m.l - 8, y: rowY(i) + rowH / 2 + 4, "text-anchor": "end" }, [name]));
    });
    for (const b of t.bars) {
      const i = lanes.indexOf(b.instrument);
      if (i < 0) continue;
      const x = f.sx(b.start_v_s / 3600), w = Math.max(2, f.sx(b.end_v_s / 3600) - x);
      const dur = (b.end_v_s - b.start_v_s) / 3600;
      g.appendChild(svgEl("rect", {
        class: `bar ${b.state}${b.running ? " running" : ""}`, x, y: rowY(i) + 4, width: w, height: rowH - 8, rx: 2,
        fill: colourFor(b.kernel, page.kernelColours), opacity: b.state === "failed" ? 0.45 : 0.85,
        "data-launch": b.launch_id,
      }, [svgTitle(`launch ${b.launch_id}: ${b.kernel} on ${b.instrument}, ${b.state}, ${dur.toFixed(1)} h`)]));
    }
    const nx = f.sx(t.now_v_s / 3600);
    g.appendChild(svgEl("line", { class: "now", x1: nx, x2: nx, y1: top, y2: top + lanes.length * rowH }, [svgTitle(`now: ${hours(t.now_v_s)}`)]));
    f.svg.appendChild(g);
    const legend = h("div", { class: "legend" }, Object.entries(page.kernelColours).map(([k, c]) =>
      h("span", {}, [h("i", { style: `background:${c}` }), k])));
    box.replaceChildren(f.svg, legend);
  },

  async isotherms() {
    const box = $("#isotherms");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const isos = await api(`/api/campaigns/${encodeURIComponent(page.campaign)}/isotherms?latest=4`);
    const pts = isos.flatMap((i) => i.points.filter((p) => p.pressure.value !== null && p.uptake.value !== null));
    if (!isos.length) { box.replaceChildren(empty("no isotherm measured yet")); return; }
    const unit = (pts[0] && pts[0].uptake.unit) || "mmol/g";
    const pMax = Math.max(0, ...pts.map((p) => p.pressure.value));
    const xMax = pMax < 1.02 ? 1 : pMax; // dosed to "1 bar" lands a hair either side
    const yMax = Math.max(0.1, ...pts.map((p) => p.uptake.value));
    const f = plotFrame({ x: [0, xMax], y: [0, yMax], xLabel: "pressure (bar)", yLabel: `uptake (${unit})`, label: "isotherms" });
    const dash = ["", "6 3", "2 2", "8 3 2 3"];
    const swatch = (colour, d) => svgEl("svg", { width: 26, height: 10, class: "swatch" }, [
      svgEl("line", { x1: 1, x2: 25, y1: 5, y2: 5, stroke: colour, "stroke-width": 2, "stroke-dasharray": d }),
      svgEl("circle", { cx: 13, cy: 5, r: 3, fill: colour }),
    ]);
    const legend = [];
    isos.forEach((iso, n) => {
      const colour = colourFor(iso.gas || "?", page.gasColours);
      const ps = iso.points.filter((p) => p.pressure.value !== null && p.uptake.value !== null)
        .sort((a, b) => a.pressure.value - b.pressure.value);
      const label = `${iso.gas || "?"} · ${iso.sample_id || "launch " + iso.launch_id}${iso.state === "running" ? " (measuring)" : ""}`;
      const g = svgEl("g", { class: "isotherm", "data-launch": iso.launch_id });
      if (ps.length > 1) {
        g.appendChild(svgEl("polyline", {
          points: ps.map((p) => `${f.sx(p.pressure.value)},${f.sy(p.uptake.value)}`).join(" "),
          fill: "none", stroke: colour, "stroke-width": 1.5, "stroke-dasharray": dash[n % dash.length], opacity: 0.8,
        }));
      }
      for (const p of ps) {
        g.appendChild(svgEl("circle", { class: "pt", cx: f.sx(p.pressure.value), cy: f.sy(p.uptake.value), r: 3.5, fill: colour },
          [svgTitle(`${label}\n${fmtNum(p.pressure.value)} bar → ${fmtQ(p.uptake)}`)]));
      }
      f.svg.appendChild(g);
      legend.push(h("span", {}, [swatch(colour, dash[n % dash.length]), ` ${label}, ${iso.temperature ? fmtQ(iso.temperature) + ", " : ""}${ps.length} points`]));
    });
    box.replaceChildren(f.svg, h("div", { class: "legend" }, legend));
  },

  async progress() {
    const box = $("#progress"), pbox = $("#pareto");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const p = await api(`/api/campaigns/${encodeURIComponent(page.campaign)}/progress`);
    if (!p.points.length || !p.objectives.length) { box.replaceChildren(empty("no experiments yet")); pbox.replaceChildren(); return; }
    const o = p.objectives[0];
    const vals = p.points.map((x) => x.objectives[o.name]).filter((v) => v !== null);
    const lo = Math.min(0, ...vals), hi = Math.max(...vals, lo + 0.1);
    const f = plotFrame({
      x: [0.5, Math.max(2, p.points.length) + 0.5], y: [lo, hi], tightX: true, xStep: 1, xLabel: "experiment",
      yLabel: `${o.name} (${o.unit})`, label: "optimisation progress",
    });
    const best = p.points.filter((x) => x.best_so_far[o.name] !== null);
    if (best.length) {
      let d = "";
      best.forEach((x, i) => {
        const X = f.sx(x.experiment), Y = f.sy(x.best_so_far[o.name]);
        d += i === 0 ? `M${X},${Y}` : `H${X}V${Y}`;
      });
      d += `H${f.sx(p.points.length + 0.5)}`;
      f.svg.appendChild(svgEl("path", { class: "best", d, fill: "none", stroke: "#2e7d32", "stroke-width": 2 }));
    }
    for (const x of p.points) {
      const v = x.objectives[o.name];
      const cx = f.sx(x.experiment);
      if (v === null) {
        f.svg.appendChild(svgEl("text", { x: cx, y: f.sy(lo) - 4, "text-anchor": "middle", fill: "#c62828" },
          [x.status === "FAILED" ? "×" : "·", svgTitle(`experiment ${x.experiment}: ${x.status}`)]));
        continue;
      }
      f.svg.appendChild(svgEl("circle", {
        class: "exp", cx, cy: f.sy(v), r: 4, fill: x.status === "COMPLETED" ? "#1565c0" : "#fff", stroke: "#1565c0",
      }, [svgTitle(`experiment ${x.experiment} (${x.status}): ${fmtNum(v)} ${o.unit}`)]));
    }
    const last = best.length ? best[best.length - 1].best_so_far[o.name] : null;
    box.replaceChildren(f.svg, h("div", { class: "legend" }, [
      h("span", {}, [h("i", { style: "background:#1565c0" }), "each experiment"]),
      h("span", {}, [h("i", { style: "background:#2e7d32" }), `best so far ${o.maximize ? "(max)" : "(min)"}: ${fmtNum(last)} ${o.unit}`]),
    ]));
    if (p.objectives.length < 2) { pbox.replaceChildren(); return; }
    const o2 = p.objectives[1];
    const both = p.points.filter((x) => x.objectives[o.name] !== null && x.objectives[o2.name] !== null);
    if (!both.length) { pbox.replaceChildren(empty("no experiment has both objectives yet")); return; }
    const xs = both.map((x) => x.objectives[o.name]), ys = both.map((x) => x.objectives[o2.name]);
    const g = plotFrame({
      x: [Math.min(...xs), Math.max(...xs) + 1e-9], y: [Math.min(...ys), Math.max(...ys) + 1e-9],
      xLabel: `${o.name} (${o.unit})`, yLabel: `${o2.name} (${o2.unit})`, label: "Pareto front",
    });
    const front = both.filter((x) => p.pareto.includes(x.experiment))
      .sort((a, b) => a.objectives[o.name] - b.objectives[o.name]);
    if (front.length > 1) {
      g.svg.appendChild(svgEl("polyline", {
        points: front.map((x) => `${g.sx(x.objectives[o.name])},${g.sy(x.objectives[o2.name])}`).join(" "),
        fill: "none", stroke: "#e65100", "stroke-width": 1.5,
      }));
    }
    for (const x of both) {
      const on = p.pareto.includes(x.experiment);
      g.svg.appendChild(svgEl("circle", {
        class: on ? "pareto" : "exp", cx: g.sx(x.objectives[o.name]), cy: g.sy(x.objectives[o2.name]), r: on ? 5 : 3.5,
        fill: on ? "#e65100" : "#9aa1ad",
      }, [svgTitle(`experiment ${x.experiment}${on ? " (Pareto front)" : ""}`)]));
    }
    pbox.replaceChildren(g.svg, h("div", { class: "legend" }, [h("span", {}, [h("i", { style: "background:#e65100" }), "Pareto front"])]));
  },

  async queue() {
    const box = $("#queue");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const active = await api(`/api/launches?${cq()}&state=queued&state=waiting&state=running&state=interrupted&state=held`);
    const recent = await api(`/api/launches?${cq()}&state=done&state=failed&state=cancelled&limit=6`);
    const row = (x) => h("tr", { "data-launch": x.id }, [
      h("td", { text: String(x.id) }), h("td", { text: x.kernel }), h("td", { text: x.instrument || "–" }),
      h("td", {}, [badge(x.state)]),
      h("td", { text: x.started_v_s !== null ? hours(x.started_v_s) : `queued ${hours(x.queued_v_s)}` }),
      h("td", {}, x.awaits_decision ? ["done", "failed", "rerun"].map((o) =>
        actionButton(`${o} launch ${x.id}`, `/api/launches/${x.id}/resolve`, "small", { outcome: o })) : [x.error || ""]),
    ]);
    const head = h("tr", {}, ["launch", "kernel", "instrument", "state", "started", ""].map((t) => h("th", { text: t })));
    box.replaceChildren(
      active.length ? h("table", {}, [head, ...active.map(row)]) : empty("queue empty"),
      h("h3", { text: "recently finished" }),
      recent.length ? h("table", {}, [head.cloneNode(true), ...recent.reverse().map(row)]) : empty("nothing finished yet"),
    );
  },

  async samples() {
    const box = $("#samples");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const list = await api(`/api/samples?${cq()}`);
    if (!list.length) { box.replaceChildren(empty("no samples yet")); return; }
    const byId = Object.fromEntries(list.map((s) => [s.id, s]));
    const node = (s, depth) => h("li", { "data-sample": s.id }, [
      h("span", { class: "sid", text: s.id }), " ", h("span", { class: "muted small", text: s.kind }), " ", badge(s.state),
      s.mass ? h("span", { class: "small", text: ` ${fmtQ(s.mass)}` }) : null,
      s.made_by_kernel ? h("span", { class: "muted small", text: ` · by ${s.made_by_kernel} (launch ${s.made_by})` }) : null,
      s.children.length && depth < 12
        ? h("ul", {}, s.children.filter((c) => byId[c]).map((c) => node(byId[c], depth + 1))) : null,
    ]);
    const roots = list.filter((s) => !s.parents.some((p) => byId[p]));
    box.replaceChildren(h("ul", {}, roots.map((s) => node(s, 0))));
  },

  async audit() {
    const box = $("#audit");
    const rows = await api(`/api/audit?limit=100`);
    box.replaceChildren(...(rows.length ? rows.map((c) => h("li", { "data-command": c.id }, [
      h("span", { class: "muted", text: clock(c.created_wall_s) }),
      h("span", { text: c.who }),
      h("span", { class: "what", text: `${c.kind} ${c.target}${c.argument ? " → " + c.argument : ""}${c.result ? " · " + c.result : ""}` }),
      badge(c.state),
    ])) : [h("li", {}, [empty("no control actions yet")])]));
  },
};

// -- refreshing -----------------------------------------------------------------------------
function markStale(names) {
  for (const n of names) page.dirty.add(n);
  if (!page.timer) page.timer = setTimeout(refresh, 150);
}

async function refresh() {
  page.timer = null;
  if (page.busy) { page.timer = setTimeout(refresh, 150); return; }
  page.busy = true;
  const names = SECTIONS.filter((n) => page.dirty.has(n));
  page.dirty.clear();
  try {
    if (names.includes("header")) await run("header");
    await Promise.all(names.filter((n) => n !== "header").map(run));
  } finally {
    page.busy = false;
    document.body.dataset.refreshed = String(Date.now());
  }
}

async function run(name) {
  try {
    await render[name]();
  } catch (err) {
    const box = { header: "#campaign-state", pending: "#approvals" }[name] || `#${name}`;
    const el = $(box);
    if (el && name !== "header") el.replaceChildren(h("div", { class: "error", text: String(err.message || err) }));
    console.error(name, err);
  }
}

// -- the live stream ------------------------------------------------------------------------
function follow() {
  if (page.stream) page.stream.close();
  const q = [];
  if (page.campaign) q.push(cq());
  if (page.token) q.push(`token=${encodeURIComponent(page.token)}`);
  const es = new EventSource(`/api/stream${q.length ? "?" + q.join("&") : ""}`);
  page.stream = es;
  const live = $("#live");
  es.addEventListener("hello", () => {
    live.textContent = "live";
    live.className = "live on";
    markStale(SECTIONS); // catch up on whatever happened while not connected
  });
  for (const [kind, sections] of Object.entries(STALE)) {
    es.addEventListener(kind, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (_) { /* keep going */ }
      if (kind === "measurement" && !(data.name || "").startsWith("uptake")) {
        markStale(["progress"]);
        return;
      }
      if (kind === "campaign" && data.id && data.id !== page.campaign) {
        markStale(["header"]); // another campaign: the picker (and perhaps the choice) changes
        return;
      }
      markStale(sections);
    });
  }
  es.onerror = () => {
    live.textContent = "reconnecting";
    live.className = "live off";
  };
}

// -- start ----------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  showToken();
  $("#token-button").addEventListener("click", () => askToken().then((ok) => { if (ok) follow(); }));
  $("#campaign").addEventListener("change", (ev) => {
    page.campaign = ev.target.value;
    page.pinned = true;
    page.kernelColours = {};
    follow();
    markStale(SECTIONS);
  });
  document.querySelectorAll("header button[data-scope=campaign]").forEach((b) => {
    b.addEventListener("click", () => {
      if (!page.campaign) return;
      const kind = b.dataset.action;
      if (kind === "abort" && !confirm(`Abort campaign ${page.campaign}?`)) return;
      control(`/api/campaigns/${encodeURIComponent(page.campaign)}/${kind}`, `${kind} ${page.campaign}`);
    });
  });
  render.header().catch(() => {}).finally(() => {
    follow();
    markStale(SECTIONS);
  });
});
