// The dashboard page: reads the JSON API, follows /api/stream, and re-reads what changed.
// Each section redraws from the API on its own, so rows appearing live (or missed stream
// events) never leave the page inconsistent: an event only says which sections to re-read.
// Between events a one-second ticker moves the lab clock and running launches' progress on,
// from where the controller last said the clock stood and how fast it runs.
"use strict";

const page = {
  campaign: null,        // the campaign shown
  current: null,         // its row from /api/campaigns
  pinned: false,         // picked by hand: do not follow a newer campaign
  selected: null,        // the experiment number followed in every panel
  experiments: [],       // rows of the experiments table
  launchExperiment: {},  // launch id -> experiment number
  running: [],           // running launches (for the ticker)
  signedIn: false,
  operator: "",
  serverOk: true,
  serverLostAt: null,
  stream: null,
  dirty: new Set(),
  timer: null,
  busy: false,
  waiting: 0,            // approvals and steps waiting for a person
  kernelColours: {},
};

const SECTIONS = ["header", "now", "pending", "instruments", "experiments", "timeline",
  "isotherms", "progress", "queue", "samples", "audit"];
// which sections each stream event makes stale
const STALE = {
  launch: ["header", "now", "instruments", "timeline", "queue", "samples", "experiments"],
  measurement: ["isotherms"],
  experiment: ["header", "now", "progress", "pending", "experiments", "queue"],
  command: ["audit", "header", "instruments", "pending"],
  step: ["pending", "queue", "now"],
  instrument: ["instruments", "now"],
  campaign: ["header", "now", "timeline"],
};
const OVER = ["done", "aborted", "failed", "abandoned"];
const PALETTE = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037",
  "#827717", "#283593", "#c62828"];
const GAS = { CO2: "#c62828", N2: "#1565c0", He: "#6a1b9a" };
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2330" };

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
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

const WORDS = {
  COMPLETED: "completed", FAILED: "failed (chemistry)", ABANDONED: "abandoned (instrument)",
  awaiting_approval: "awaiting approval", running: "running", queued: "queued",
  waiting: "waiting", interrupted: "interrupted", held: "held", done: "done",
  cancelled: "cancelled", replaced: "replaced", pending: "pending", refused: "refused",
  confirmed: "confirmed", failed: "failed", ready: "ready", busy: "busy",
  quarantined: "quarantined", paused: "paused", offline: "offline", aborted: "aborted",
};
function word(state) { return WORDS[state] || String(state).replace(/_/g, " ").toLowerCase(); }
function badge(state, text) { return h("span", { class: `badge ${state}`, text: text || word(state) }); }
function empty(text) { return h("div", { class: "empty", text }); }

function fmtNum(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return String(Number(x.toPrecision(digits || 4)));
}
function fmtQ(q) {
  if (q === null || q === undefined) return "–";
  if (typeof q !== "object") return String(q);
  if (!("value" in q)) return JSON.stringify(q);
  return `${fmtNum(q.value)}${q.unit ? " " + q.unit : ""}`;
}
function hours(s) { return s === null || s === undefined ? "–" : `${(s / 3600).toFixed(1)} h`; }
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s >= 3600) return `${(s / 3600).toFixed(1)} h`;
  if (s >= 60) return `${(s / 60).toFixed(1)} min`;
  return `${s.toFixed(0)} s`;
}
function wallClock(wall) {
  if (!wall) return "–";
  return new Date(wall * 1000).toLocaleTimeString([], { hour12: false });
}
// a lab time as a calendar moment: "Tue 14:00"
function labDate(t) {
  const c = page.current && page.current.clock;
  if (!c || t === null || t === undefined) return "–";
  const d = new Date((c.origin_wall_s + t) * 1000);
  return d.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false });
}
function params(obj) {
  if (!obj) return "";
  return Object.entries(obj).map(([k, v]) => `${k} ${fmtQ(v)}`).join(", ");
}
// Plotly.purge drops the plot's event handlers too: wire them again after the next draw
function purge(el) {
  Plotly.purge(el);
  delete el.dataset.wired;
}
function colourFor(key) {
  if (!(key in page.kernelColours)) {
    page.kernelColours[key] = PALETTE[Object.keys(page.kernelColours).length % PALETTE.length];
  }
  return page.kernelColours[key];
}

function toast(text, bad) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "show" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, bad ? 9000 : 3500);
}

// -- talking to the server -------------------------------------------------------------------
function serverLost(err) {
  if (page.serverOk) {
    page.serverOk = false;
    page.serverLostAt = Date.now() / 1000;
  }
  showBanner();
  applyControls();
  throw err;
}
function serverBack() {
  if (!page.serverOk) {
    page.serverOk = true;
    page.serverLostAt = null;
    showBanner();
    applyControls();
    markStale(SECTIONS);
  }
}

async function api(path) {
  let r;
  try {
    r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  } catch (e) {
    serverLost(new Error(`the server does not answer (${path})`));
  }
  serverBack();
  if (r.status === 401) {
    if (page.signedIn) { page.signedIn = false; showSignIn(); }
    throw new Error("reading needs signing in (press Sign in)");
  }
  if (r.status === 503) throw new Error("the server is busy; trying again shortly");
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

function cq() { return page.campaign ? `campaign=${encodeURIComponent(page.campaign)}` : ""; }
function cpath(rest) { return `/api/campaigns/${encodeURIComponent(page.campaign)}${rest}`; }

// -- signing in -------------------------------------------------------------------------------
async function whoami() {
  try {
    const w = await api("/api/whoami");
    page.signedIn = w.signed_in;
    page.operator = w.operator || "";
  } catch (_) { /* the banner says so */ }
  showSignIn();
}

function showSignIn() {
  const b = $("#sign-in");
  b.textContent = page.signedIn ? `${page.operator} · sign out` : "Sign in";
  b.title = page.signedIn ? "sign out of this browser" : "control needs the token the server printed";
}

function signIn(why) {
  const dlg = $("#login-dialog");
  $("#login-name").value = page.operator;
  $("#login-token").value = "";
  $("#login-error").hidden = true;
  if (why) $("#login-why").textContent = why;
  return new Promise((resolve) => {
    const form = $("#login-form");
    const submit = async (ev) => {
      if (ev.submitter && ev.submitter.value === "cancel") { dlg.close(); return; }
      ev.preventDefault();
      const body = { token: $("#login-token").value.trim(), operator: $("#login-name").value.trim() };
      let r;
      try {
        r = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" });
      } catch (_) {
        $("#login-error").textContent = "the server does not answer";
        $("#login-error").hidden = false;
        return;
      }
      if (!r.ok) {
        const d = await r.json().catch(() => ({}));
        $("#login-error").textContent = typeof d.detail === "string" ? d.detail : `refused (${r.status})`;
        $("#login-error").hidden = false;
        return;
      }
      const w = await r.json();
      page.signedIn = true;
      page.operator = w.operator;
      showSignIn();
      dlg.close("ok");
      // reads may have been refused before: the stream and every panel again
      follow();
      markStale(SECTIONS);
    };
    form.onsubmit = submit;
    dlg.onclose = () => { form.onsubmit = null; resolve(page.signedIn); };
    dlg.showModal();
  });
}

async function signOut() {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" }).catch(() => {});
  page.signedIn = false;
  showSignIn();
  toast("signed out");
}

// -- control: every action is a Command row the runtime carries out -------------------------
async function control(path, label, body) {
  if (!page.serverOk) { toast(`${label}: the server does not answer; nothing was sent`, true); return; }
  if (!page.signedIn && !(await signIn())) return;
  for (let attempt = 0; attempt < 2; attempt++) {
    let r;
    try {
      r = await fetch(path, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined,
      });
    } catch (_) {
      toast(`${label}: the server does not answer; nothing was sent`, true);
      return;
    }
    if (r.status === 401) {
      page.signedIn = false;
      showSignIn();
      if (!(await signIn("Your session has ended (the server restarted?). Sign in again."))) return;
      continue;
    }
    const data = await r.json().catch(() => ({}));
    if (r.ok) {
      toast(`${label}: sent (command ${data.id}); the controller will act on it`);
      followCommand(data.id, label);
    } else {
      const why = typeof data.detail === "string" ? data.detail : `refused (${r.status})`;
      toast(`${label}: ${why}`, true);
    }
    markStale(["audit", "header", "instruments", "pending", "now"]);
    return data;
  }
}

// a command is done or refused by the controller a moment later: say which
async function followCommand(id, label) {
  for (let i = 0; i < 40; i++) {
    await new Promise((res) => setTimeout(res, 500));
    let c;
    try { c = await api(`/api/commands/${id}`); } catch (_) { return; }
    if (c.state === "refused") { toast(`${label}: refused: ${c.result || "no reason given"}`, true); return; }
    if (c.state === "done") { return; }
  }
  toast(`${label}: no controller has acted on it yet (is the campaign's controller running?)`, true);
}

function actionButton(label, path, cls, body, text) {
  return h("button", {
    class: cls || "small",
    "data-action": path.split("/").pop(),
    onclick: (ev) => { ev.preventDefault(); control(path, label, body); },
  }, [text || label.split(" ")[0]]);
}

function campaignOver() { return !page.current || OVER.includes(page.current.state); }

function applyControls() {
  const c = page.current;
  const live = page.serverOk && c && !OVER.includes(c.state);
  for (const b of document.querySelectorAll("header button[data-scope=campaign]")) {
    const kind = b.dataset.action;
    const ok = live && (kind === "pause" ? c.state === "running" : kind === "resume" ? c.state === "paused" : true);
    b.disabled = !ok;
    b.title = !page.serverOk ? "the server does not answer" : !c ? "no campaign"
      : OVER.includes(c.state) ? `the campaign is ${c.state}` : "";
  }
  for (const b of document.querySelectorAll("main button[data-action]")) {
    b.disabled = !live;
  }
}

function showBanner() {
  const b = $("#banner");
  const c = page.current;
  if (!page.serverOk) {
    b.hidden = false;
    b.className = "banner bad";
    b.textContent = `The server does not answer (since ${wallClock(page.serverLostAt)}). What you see is as it was then; controls are off until it is back.`;
    return;
  }
  if (c && OVER.includes(c.state)) {
    b.hidden = false;
    b.className = `banner ${c.state}`;
    const at = `${hours(c.virtual_t_s)} of lab time (${labDate(c.virtual_t_s)})`;
    b.textContent = c.state === "done"
      ? `Campaign ${c.id} is done: it ended at ${at}. The summary is below; nothing more will run.`
      : `Campaign ${c.id} ${c.state === "aborted" ? "was aborted" : "ended: " + c.state} at ${at}. Nothing more will run.`;
    return;
  }
  b.hidden = true;
}

// -- the clock --------------------------------------------------------------------------------
// lab time now: where the controller said it stood, moved on at the rate it measured since
// its last word; never back (a late word would otherwise pull the clock back)
function labNow() {
  const c = page.current;
  if (!c) return null;
  const k = c.clock;
  let t = k.virtual_t_s;
  if (!OVER.includes(c.state) && k.wall_s && k.rate) {
    // at most two heartbeats on: past that the controller is late and the page waits for it
    const gap = Math.min(Math.max(0, Date.now() / 1000 - k.wall_s), 4);
    t += gap * k.rate;
  }
  if (page.shownNow && page.shownNow.campaign === c.id && page.shownNow.t > t && !OVER.includes(c.state)) {
    t = page.shownNow.t;
  }
  page.shownNow = { campaign: c.id, t };
  return t;
}

function tick() {
  const c = page.current;
  const now = labNow();
  $("#lab-now").textContent = now === null ? "–" : `lab time ${hours(now)} · ${labDate(now)}`;
  const kind = !c ? "" : !c.dry_run ? "real run" : c.clock.rate ? `dry-run at ×${fmtNum(c.clock.rate, 3)}` : "dry-run (lab time jumps)";
  $("#wall-now").textContent = `wall ${wallClock(Date.now() / 1000)}${kind ? " · " + kind : ""}`;
  if (c && c.eta_v_s !== null && c.eta_v_s !== undefined && !OVER.includes(c.state)) {
    const n = Object.values(c.experiments).reduce((a, b) => a + b, 0);
    const done = ["COMPLETED", "FAILED", "ABANDONED"].reduce((a, k) => a + (c.experiments[k] || 0), 0);
    const of = c.budget.experiments ? ` (${done} of ${c.budget.experiments} done)` : ` (${done} of ${n} done)`;
    $("#eta").textContent = `ends ~${labDate(c.eta_v_s)}${of}`;
  } else {
    $("#eta").textContent = "";
  }
  for (const el of document.querySelectorAll("[data-progress]")) {
    const x = page.running.find((r) => String(r.id) === el.dataset.progress);
    if (x) el.replaceWith(progressOf(x, now));
  }
}

function progressOf(x, now) {
  const ran = Math.max(0, (now ?? 0) - (x.started_v_s ?? 0));
  const exp = x.expected_s;
  const frac = exp ? Math.min(1, ran / exp) : null;
  // both in the expected duration's unit: "synthesis 12.3 of 36.0 h"
  const [div, unit] = exp >= 3600 ? [3600, "h"] : exp >= 60 ? [60, "min"] : [1, "s"];
  const text = exp
    ? `${x.kernel} ${(ran / div).toFixed(1)} of ${(exp / div).toFixed(1)} ${unit}, ends ~${labDate(x.started_v_s + exp)}${ran > exp ? " (over its expected time)" : ""}`
    : `${x.kernel} running for ${duration(ran)} (no expected duration yet)`;
  return h("div", { class: "progress", "data-progress": String(x.id) }, [
    h("div", { class: "ptext", text }),
    h("div", { class: "pbar" + (ran > (exp || Infinity) ? " late" : "") }, [
      h("i", { style: `width:${frac === null ? 100 : Math.round(frac * 100)}%`, class: frac === null ? "unknown" : "" }),
    ]),
  ]);
}

// -- sections ---------------------------------------------------------------------------------
const render = {
  async header() {
    const all = await api("/api/campaigns");
    const sel = $("#campaign");
    const ids = all.map((c) => c.id);
    const current = all.find((c) => c.id === page.campaign);
    const over = current && OVER.includes(current.state);
    // follow the newest campaign unless someone picked one by hand
    if (!page.campaign || !current || (over && !page.pinned && ids[0] !== page.campaign)) {
      const previous = page.campaign;
      page.campaign = ids[0] || null;
      if (previous !== page.campaign) { page.selected = null; if (page.stream) follow(); markStale(SECTIONS); }
    }
    const label = (c) => `${c.id} (${c.name})${c.controller ? " · live" : ""}`;
    if (sel.options.length !== all.length || [...sel.options].some((o, i) => o.value !== ids[i])) {
      sel.replaceChildren(...all.map((c) => h("option", { value: c.id, text: label(c) })));
    }
    all.forEach((c, i) => { if (sel.options[i].text !== label(c)) sel.options[i].text = label(c); });
    sel.value = page.campaign || "";
    const c = all.find((x) => x.id === page.campaign) || null;
    page.current = c;
    const st = $("#campaign-state");
    if (!c) {
      st.textContent = "no campaign yet";
      st.className = "badge";
    } else {
      st.textContent = OVER.includes(c.state) ? `${word(c.state)} at ${hours(c.virtual_t_s)}` : word(c.state);
      st.className = `badge ${c.state}`;
      const gone = !c.controller && ["running", "paused"].includes(c.state);
      const silent = c.controller && c.heartbeat_age_s !== null && c.heartbeat_age_s > 30;
      $("#controller").textContent = silent
        ? `${c.controller}: no word for ${Math.round(c.heartbeat_age_s)} s (hung?)`
        : c.controller ? `run by ${c.controller}` : gone ? "no controller (stopped? `ppu resume` carries on)" : "";
      $("#controller").className = gone || silent ? "warn small" : "muted small";
    }
    showBanner();
    applyControls();
    tick();
  },

  async now() {
    const box = $("#now");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet: start one with `ppu demo --serve` or `ppu run … --serve`")); return; }
    const c = page.current;
    const running = await api(`/api/launches?${cq()}&state=running`);
    page.running = running;
    const now = labNow();
    const parts = [];
    if (c && OVER.includes(c.state) && c.summary) {
      parts.push(summaryBlock(c));
    }
    const lanes = running.filter((x) => x.instrument);
    const compute = running.filter((x) => !x.instrument);
    if (!OVER.includes(c ? c.state : "done")) {
      parts.push(h("div", { class: "running" }, [
        h("h3", { text: `running now (${running.length})` }),
        running.length
          ? h("div", { class: "runs" }, [...lanes, ...compute].map((x) => h("div", { class: "run" }, [
            h("div", { class: "who" }, [h("b", { text: x.instrument || "(compute)" }), " ", h("span", { class: "muted small", text: `launch ${x.id}${page.launchExperiment[x.id] ? " · experiment " + page.launchExperiment[x.id] : ""}` })]),
            progressOf(x, now),
          ])))
          : empty(c && c.state === "paused" ? "nothing runs: the campaign is paused" : "nothing is running this moment"),
      ]));
    }
    const best = page.experiments.find((e) => e.best);
    const o = c && c.objectives[0];
    const facts = [];
    if (best && o) {
      const v = best.objectives && best.objectives[o.name];
      facts.push(h("div", {}, [h("b", { text: "best so far: " }), `${fmtQ(v)} ${o.name} (experiment ${best.number}) at ${params(best.params)}`]));
    }
    if (c) {
      const n = Object.values(c.experiments).reduce((a, b) => a + b, 0);
      const ex = Object.entries(c.experiments).map(([k, v]) => `${v} ${word(k)}`).join(", ");
      facts.push(h("div", { text: `${n} experiment${n === 1 ? "" : "s"}${c.budget.experiments ? " of " + c.budget.experiments : ""}${ex ? ": " + ex : ""}` }));
    }
    if (page.waiting) facts.push(h("div", { class: "warn-text", text: `${page.waiting} waiting for a person (see "Waiting for you")` }));
    parts.push(h("div", { class: "facts" }, facts));
    $("#now-headline").textContent = c ? `${c.name} · ${c.dry_run ? "dry-run" : "real lab"}` : "";
    box.replaceChildren(...parts);
  },

  async pending() {
    if (!page.campaign) { $("#approvals").replaceChildren(h("li", {}, [empty("no campaign yet")])); $("#steps").replaceChildren(); return; }
    const [props, steps, exps] = await Promise.all([
      api(`/api/suggestions?${cq()}&status=awaiting_approval`),
      api(`/api/steps?${cq()}&state=waiting`),
      api(cpath("/experiments")).catch(() => []), // the reasons only: never hide what waits
    ]);
    const rows = Object.fromEntries(exps.map((e) => [e.id, e]));
    const ap = $("#approvals");
    ap.replaceChildren(...(props.length ? props.map((e) => {
      const row = rows[e.id] || {};
      return h("li", { "data-experiment": e.id }, [
        h("div", {}, [h("b", { text: `experiment ${e.number}` }), " ", badge(e.status), " ", h("span", { class: "muted small", text: row.phase || "" })]),
        h("div", { class: "params", text: params(e.params) }),
        h("div", { class: "why", text: `why: ${row.reason || "the planner proposed it"}` }),
        h("div", { class: "actions" }, [
          actionButton(`approve experiment ${e.number}`, `/api/suggestions/${e.id}/approve`, "small primary", null, "Approve"),
          actionButton(`reject experiment ${e.number}`, `/api/suggestions/${e.id}/reject`, "small danger", null, "Reject"),
        ]),
      ]);
    }) : [h("li", {}, [empty("no proposal waits for approval")])]));
    const sp = $("#steps");
    sp.replaceChildren(...(steps.length ? steps.map((st) => h("li", { "data-step": st.id }, [
      h("div", {}, [h("b", { text: st.instrument || "lab" }), h("span", { class: "muted small", text: ` · launch ${st.launch_id ?? "–"} · waiting since ${hours(st.created_v_s)} of lab time (${wallClock(st.created_wall_s)})` })]),
      h("div", { text: st.text }),
      h("div", { class: "actions" }, [
        actionButton(`confirm step ${st.id}`, `/api/steps/${st.id}/confirm`, "small primary", null, "Done"),
        h("button", { class: "small danger", "data-action": "could-not", onclick: (ev) => { ev.preventDefault(); couldNot(st); } }, ["Could not do it"]),
      ]),
    ])) : [h("li", {}, [empty("no manual step is waiting")])]));
    page.waiting = props.length + steps.length;
    $("#pending-count").textContent = page.waiting ? `${page.waiting} waiting` : "";
    document.title = `${page.waiting ? "(" + page.waiting + ") " : ""}ppu · ${page.current ? page.current.name : "dashboard"}`;
    applyControls();
  },

  async instruments() {
    const box = $("#instruments");
    const list = await api(`/api/instruments?${cq()}`);
    const use = page.campaign ? await api(cpath("/utilisation")) : null;
    const byName = Object.fromEntries((use ? use.instruments : []).map((u) => [u.name, u]));
    $("#bottleneck").textContent = use && use.bottleneck ? `bottleneck: ${use.bottleneck.why}` : "";
    if (!list.length) { box.replaceChildren(empty("no instruments known yet")); return; }
    const over = campaignOver();
    box.replaceChildren(...list.map((i) => {
      const u = byName[i.name];
      // a person's release lifts their own hold and the watchdog's; a quarantine or a lost
      // lock is lifted by what caused it
      const releasable = i.holds.filter((x) => ["operator", "watchdog"].includes(x));
      const holdWords = i.holds.map((x) => ({ operator: "held by a person", watchdog: "held by the watchdog", quarantine: "quarantined", pause: "campaign paused", abort: "aborting", lock: "controller lost its lock" }[x] || x));
      const idle = use && use.idle.includes(i.name);
      return h("div", { class: `instrument ${i.state}`, "data-name": i.name }, [
        h("div", { class: "row" }, [h("span", { class: "name", text: i.name }), badge(i.state)]),
        h("div", { class: "muted small", text: i.roles.join(", ") || " " }),
        h("div", { class: "small", text: i.kernel ? `running ${i.kernel} (launch ${i.launch_id})` : holdWords.length ? holdWords.join(", ") : "idle" }),
        u ? h("div", { class: "use", title: "share of lab time running kernels" }, [
          h("div", { class: "urow" }, [h("span", { text: "campaign" }), h("span", { class: "ubar" }, [h("i", { style: `width:${Math.round(u.whole * 100)}%` })]), h("span", { text: `${Math.round(u.whole * 100)} %` })]),
          h("div", { class: "urow" }, [h("span", { text: "last 24 h" }), h("span", { class: "ubar" }, [h("i", { style: `width:${Math.round(u.last_24h * 100)}%` })]), h("span", { text: `${Math.round(u.last_24h * 100)} %` })]),
        ]) : null,
        idle ? h("div", { class: "warn-text small", text: "idle the whole campaign" }) : null,
        h("div", { class: "muted small", text: `faults ${i.faults}${i.source === "launches" ? " · from launches" : ""}` }),
        over || i.holds.includes("quarantine") ? null : h("div", { class: "row" }, [
          releasable.length
            ? actionButton(`release ${i.name}`, `/api/instruments/${encodeURIComponent(i.name)}/release`, "small", null, "Release")
            : actionButton(`hold ${i.name}`, `/api/instruments/${encodeURIComponent(i.name)}/hold`, "small", null, "Hold"),
        ]),
      ]);
    }));
    applyControls();
  },

  async experiments() {
    const box = $("#experiments");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const rows = await api(cpath("/experiments"));
    page.experiments = rows;
    page.launchExperiment = {};
    for (const e of rows) for (const x of e.launches) page.launchExperiment[x.id] = e.number;
    if (!rows.length) { box.replaceChildren(empty("the planner has proposed nothing yet")); return; }
    const o = page.current ? page.current.objectives : [];
    const head = h("tr", {}, ["#", "status", "conditions", "planner", "predicted", "measured", "fidelity", "samples", "isotherms", "why it failed"].map((t) => h("th", { text: t })));
    const body = rows.map((e) => {
      const pm = e.predicted_vs_measured[0] || {};
      const unit = pm.unit || (o[0] && o[0].unit) || "";
      const predicted = pm.predicted_mean !== null && pm.predicted_mean !== undefined ? `${fmtNum(pm.predicted_mean)} ± ${fmtNum(pm.predicted_sd, 2)} ${unit}` : "–";
      const measured = o.map((ob) => e.objectives && e.objectives[ob.name] ? `${fmtQ(e.objectives[ob.name])}` : null).filter(Boolean).join(", ") || "–";
      const fid = pm.computed !== null && pm.computed !== undefined ? `measured; twin ${fmtNum(pm.computed)} ${unit}` : e.objectives && Object.keys(e.objectives).length ? "measured" : "–";
      const isos = e.launches.filter((x) => x.kernel === "measure_isotherm");
      return h("tr", {
        "data-experiment": e.number, class: `${e.best ? "best " : ""}${page.selected === e.number ? "selected" : ""}`,
        onclick: () => select(page.selected === e.number ? null : e.number),
        title: e.reason,
      }, [
        h("td", { text: `${e.best ? "★ " : ""}${e.number}` }),
        h("td", {}, [badge(e.status)]),
        h("td", { class: "params", text: params(e.params) }),
        h("td", { class: "small", text: e.phase }),
        h("td", { text: predicted }),
        h("td", { text: measured }),
        h("td", { class: "small", text: fid }),
        h("td", { class: "small mono", text: e.samples.join(" → ") || "–" }),
        h("td", {}, isos.length ? isos.map((x) => h("a", {
          href: `#isotherms`, class: "iso-link", "data-launch": x.id,
          onclick: (ev) => { ev.stopPropagation(); select(e.number); },
        }, [`${x.gas || "?"} (${x.id})`, " "])) : ["–"]),
        h("td", { class: "small error", text: e.failure ? `${e.failure.kernel}: ${e.failure.error || e.failure.kind || "failed"}` : e.status === "ABANDONED" || e.status === "FAILED" ? e.error || "" : "" }),
      ]);
    });
    box.replaceChildren(h("table", { class: "experiments" }, [h("thead", {}, [head]), h("tbody", {}, body)]));
  },

  async timeline() {
    const el = $("#timeline");
    if (!page.campaign) { purge(el); el.replaceChildren(empty("no campaign yet")); return; }
    const t = await api(cpath("/timeline"));
    const lanes = t.instruments.length ? t.instruments : [...new Set(t.bars.map((b) => b.instrument))];
    if (!t.bars.length) { purge(el); el.replaceChildren(empty("nothing has run yet")); return; }
    if (el.querySelector(".empty")) el.replaceChildren();
    const byKernel = {};
    for (const b of t.bars) (byKernel[b.kernel] = byKernel[b.kernel] || []).push(b);
    const sel = page.selected;
    const traces = Object.entries(byKernel).map(([kernel, bars]) => ({
      type: "bar", orientation: "h", name: kernel,
      y: bars.map((b) => b.instrument),
      base: bars.map((b) => b.start_v_s / 3600),
      x: bars.map((b) => Math.max((b.end_v_s - b.start_v_s) / 3600, 0.02)),
      customdata: bars.map((b) => b.launch_id),
      text: bars.map((b) => `launch ${b.launch_id}${page.launchExperiment[b.launch_id] ? " · experiment " + page.launchExperiment[b.launch_id] : ""}<br>${kernel} on ${b.instrument}: ${word(b.state)}${b.running ? " (running)" : ""}<br>${(b.start_v_s / 3600).toFixed(1)} → ${(b.end_v_s / 3600).toFixed(1)} h (${((b.end_v_s - b.start_v_s) / 3600).toFixed(2)} h)`),
      hovertemplate: "%{text}<extra></extra>", textposition: "none",
      marker: {
        color: colourFor(kernel),
        opacity: bars.map((b) => (sel && page.launchExperiment[b.launch_id] !== sel ? 0.25 : b.state === "failed" ? 0.5 : 0.9)),
        line: { color: bars.map((b) => (b.state === "failed" ? "#c62828" : "#1d2330")), width: bars.map((b) => (sel && page.launchExperiment[b.launch_id] === sel ? 2 : b.running ? 1 : 0)) },
      },
    }));
    const now = t.now_v_s / 3600;
    const layout = {
      uirevision: page.campaign, barmode: "overlay", font: FONT, height: 70 + 30 * lanes.length,
      margin: { l: 10, r: 10, t: 8, b: 40 }, hovermode: "closest", showlegend: true,
      legend: { orientation: "h", y: -0.25, font: { size: 12 } },
      xaxis: { title: { text: "lab time (h)" }, zeroline: false, rangemode: "tozero" },
      yaxis: { type: "category", categoryorder: "array", categoryarray: [...lanes].reverse(), automargin: true, fixedrange: true },
      shapes: [{ type: "line", x0: now, x1: now, yref: "paper", y0: 0, y1: 1, line: { color: "#c62828", dash: "dot", width: 1.5 } }],
      annotations: [{ x: now, yref: "paper", y: 1, text: "now", showarrow: false, yanchor: "bottom", font: { size: 11, color: "#c62828" } }],
    };
    layout.height = Math.max(layout.height, 180) + 30;
    await Plotly.react(el, traces, layout, PLOT_CONFIG);
    el.dataset.bars = String(t.bars.length);
    if (!el.dataset.wired) {
      el.dataset.wired = "1";
      el.on("plotly_click", (ev) => {
        const lid = ev.points && ev.points[0] && ev.points[0].customdata;
        if (lid && page.launchExperiment[lid]) select(page.launchExperiment[lid]);
      });
    }
  },

  async isotherms() {
    const el = $("#isotherms");
    if (!page.campaign) { purge(el); el.replaceChildren(empty("no campaign yet")); return; }
    const chosen = page.selected ? page.experiments.find((e) => e.number === page.selected) : null;
    const ids = chosen ? chosen.launches.filter((x) => x.kernel === "measure_isotherm").map((x) => x.id) : [];
    const isos = await api(cpath(ids.length ? `/isotherms?${ids.map((i) => "launch=" + i).join("&")}` : "/isotherms?latest=4"));
    $("#isotherms-what").textContent = chosen ? `experiment ${chosen.number}` : "latest launches";
    if (!isos.length) {
      purge(el);
      el.replaceChildren(empty(chosen ? `experiment ${chosen.number} has no isotherm yet` : "no isotherm measured yet"));
      return;
    }
    if (el.querySelector(".empty")) el.replaceChildren();
    const unit = (isos.find((i) => i.points.length) || { points: [{ uptake: { unit: "mmol/g" } }] }).points[0]?.uptake.unit || "mmol/g";
    const traces = [];
    const symbols = ["circle", "square", "diamond", "triangle-up", "cross", "x"];
    const expOrder = [...new Set(isos.map((i) => page.launchExperiment[i.launch_id] || 0))];
    isos.forEach((iso) => {
      for (const branch of ["adsorption", "desorption"]) {
        const ps = iso.points.filter((p) => p.branch === branch && p.pressure.value !== null && p.uptake.value !== null);
        if (!ps.length) continue;
        const exp = page.launchExperiment[iso.launch_id];
        const label = `${iso.gas || "?"}${iso.temperature ? " " + fmtQ(iso.temperature) : ""} · ${iso.sample_id || "launch " + iso.launch_id}${exp ? " (exp " + exp + ")" : ""}${branch === "desorption" ? " desorption" : ""}${iso.state === "running" ? " (measuring)" : ""}`;
        traces.push({
          type: "scatter", mode: "lines+markers", name: label,
          x: ps.map((p) => p.pressure.value), y: ps.map((p) => p.uptake.value),
          customdata: ps.map(() => iso.launch_id),
          line: { color: GAS[iso.gas] || colourFor(iso.gas || "?"), dash: branch === "desorption" ? "dash" : "solid", width: 2 },
          // one marker shape per experiment: two samples' CO2 isotherms tell apart
          marker: { size: 7, symbol: symbols[expOrder.indexOf(exp || 0) % symbols.length] },
          hovertemplate: `${label}<br>%{x:.4g} bar → %{y:.4g} ${unit}<extra></extra>`,
        });
      }
    });
    const layout = {
      uirevision: `${page.campaign}:${page.selected || ""}`, font: FONT, height: 340,
      margin: { l: 10, r: 10, t: 10, b: 40 }, hovermode: "closest",
      legend: { orientation: "h", y: -0.3, font: { size: 11 } },
      xaxis: { title: { text: "pressure (bar)" }, rangemode: "tozero", automargin: true },
      yaxis: { title: { text: `uptake (${unit})` }, rangemode: "tozero", automargin: true },
      shapes: [{ type: "line", x0: 0.15, x1: 0.15, yref: "paper", y0: 0, y1: 1, line: { color: "#6b7280", dash: "dash", width: 1 } }],
      annotations: [{ x: 0.15, yref: "paper", y: 1, text: "0.15 bar", showarrow: false, xanchor: "left", yanchor: "top", font: { size: 11, color: "#6b7280" } }],
    };
    await Plotly.react(el, traces, layout, PLOT_CONFIG);
    el.dataset.points = String(traces.reduce((a, t) => a + t.x.length, 0));
    el.dataset.launches = isos.map((i) => i.launch_id).join(",");
  },

  async progress() {
    const el = $("#progress"), pel = $("#pareto");
    if (!page.campaign) { purge(el); el.replaceChildren(empty("no campaign yet")); return; }
    const p = await api(cpath("/progress"));
    if (!p.points.length || !p.objectives.length) { purge(el); el.replaceChildren(empty("no experiment has finished yet")); purge(pel); return; }
    if (el.querySelector(".empty")) el.replaceChildren();
    const o = p.objectives[0];
    const byNumber = Object.fromEntries(page.experiments.map((e) => [e.number, e]));
    const done = p.points.filter((x) => x.objectives[o.name] !== null);
    const failed = p.points.filter((x) => x.objectives[o.name] === null && ["FAILED", "ABANDONED"].includes(x.status));
    const pred = done.map((x) => (byNumber[x.experiment] || {}).predicted_vs_measured?.[0] || {});
    const sel = page.selected;
    const traces = [
      {
        type: "scatter", mode: "markers", name: "measured",
        x: done.map((x) => x.experiment), y: done.map((x) => x.objectives[o.name]),
        marker: { size: done.map((x) => (x.experiment === sel ? 13 : 8)), color: done.map((x) => (x.experiment === sel ? "#ef6c00" : "#1565c0")) },
        customdata: done.map((x) => x.experiment),
        hovertemplate: `experiment %{customdata}: %{y:.4g} ${o.unit}<extra></extra>`,
      },
      {
        type: "scatter", mode: "markers", name: "predicted ± sd",
        x: done.map((x) => x.experiment + 0.15), y: pred.map((q) => q.predicted_mean ?? null),
        error_y: { type: "data", array: pred.map((q) => q.predicted_sd ?? null), visible: true, color: "#9aa1ad" },
        marker: { size: 5, color: "#9aa1ad", symbol: "diamond" },
        hovertemplate: `predicted %{y:.4g} ${o.unit}<extra></extra>`,
      },
      {
        type: "scatter", mode: "lines", name: `best so far (${o.maximize ? "max" : "min"})`, line: { shape: "hv", color: "#2e7d32", width: 2 },
        x: p.points.map((x) => x.experiment), y: p.points.map((x) => x.best_so_far[o.name]),
        hovertemplate: `best so far after %{x}: %{y:.4g} ${o.unit}<extra></extra>`,
      },
    ];
    if (failed.length) {
      traces.push({
        type: "scatter", mode: "markers", name: "failed / abandoned", x: failed.map((x) => x.experiment),
        y: failed.map(() => 0), marker: { symbol: "x", size: 9, color: "#c62828" },
        customdata: failed.map((x) => x.status), hovertemplate: "experiment %{x}: %{customdata}<extra></extra>",
      });
    }
    await Plotly.react(el, traces, {
      uirevision: page.campaign, font: FONT, height: 300, margin: { l: 10, r: 10, t: 10, b: 40 },
      legend: { orientation: "h", y: -0.3, font: { size: 11 } }, hovermode: "closest",
      xaxis: { title: { text: "experiment" }, dtick: 1, automargin: true },
      yaxis: { title: { text: `${o.name} (${o.unit})` }, automargin: true },
    }, PLOT_CONFIG);
    if (!el.dataset.wired) {
      el.dataset.wired = "1";
      el.on("plotly_click", (ev) => { const pt = ev.points && ev.points[0]; if (pt && typeof pt.x === "number") select(Math.round(pt.x)); });
    }
    if (p.objectives.length < 2) { purge(pel); return; }
    const o2 = p.objectives[1];
    const both = p.points.filter((x) => x.objectives[o.name] !== null && x.objectives[o2.name] !== null);
    const front = both.filter((x) => p.pareto.includes(x.experiment)).sort((a, b) => a.objectives[o.name] - b.objectives[o.name]);
    await Plotly.react(pel, [
      { type: "scatter", mode: "markers", name: "experiments", x: both.map((x) => x.objectives[o.name]), y: both.map((x) => x.objectives[o2.name]), customdata: both.map((x) => x.experiment), marker: { color: "#9aa1ad", size: 7 }, hovertemplate: "experiment %{customdata}<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map((x) => x.objectives[o.name]), y: front.map((x) => x.objectives[o2.name]), customdata: front.map((x) => x.experiment), marker: { color: "#ef6c00", size: 9 }, line: { color: "#ef6c00" }, hovertemplate: "experiment %{customdata} (Pareto front)<extra></extra>" },
    ], {
      uirevision: page.campaign, font: FONT, height: 280, margin: { l: 10, r: 10, t: 10, b: 40 },
      legend: { orientation: "h", y: -0.3 },
      xaxis: { title: { text: `${o.name} (${o.unit})` }, automargin: true },
      yaxis: { title: { text: `${o2.name} (${o2.unit})` }, automargin: true },
    }, PLOT_CONFIG);
  },

  async queue() {
    const box = $("#queue");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const groups = await api(cpath("/queue"));
    if (!groups.length) { box.replaceChildren(empty(campaignOver() ? "nothing is left: the campaign is over" : "the queue is empty")); return; }
    box.replaceChildren(...groups.map((g) => h("div", { class: "qgroup", "data-experiment": g.experiment ?? "" }, [
      h("div", { class: "qhead" }, [
        h("b", { text: g.experiment ? `experiment ${g.experiment}` : "launched by hand" }),
        g.status ? badge(g.status) : null,
        g.waiting_for ? h("span", { class: "muted small", text: ` waiting for ${g.waiting_for}` }) : null,
      ]),
      g.launches.length ? h("table", {}, g.launches.map((x) => h("tr", { "data-launch": x.id }, [
        h("td", { text: String(x.id) }), h("td", { text: x.kernel }), h("td", { text: x.instrument || "–" }),
        h("td", {}, [badge(x.state)]),
        h("td", { class: "small", text: `waiting for ${x.waiting_for}` }),
      ]))) : null,
    ])));
  },

  async samples() {
    const box = $("#samples");
    if (!page.campaign) { box.replaceChildren(empty("no campaign yet")); return; }
    const list = await api(`/api/samples?${cq()}`);
    if (!list.length) { box.replaceChildren(empty("no samples yet")); return; }
    const byId = Object.fromEntries(list.map((s) => [s.id, s]));
    const chosen = page.selected ? page.experiments.find((e) => e.number === page.selected) : null;
    const mine = new Set(chosen ? chosen.samples : []);
    const node = (s, depth) => h("li", { "data-sample": s.id, class: mine.has(s.id) ? "selected" : "" }, [
      h("span", { class: "sid", text: s.id }), " ", h("span", { class: "muted small", text: s.kind }), " ", badge(s.state),
      s.mass ? h("span", { class: "small", text: ` ${fmtQ(s.mass)}` }) : null,
      s.made_by_kernel ? h("span", { class: "muted small", text: ` · by ${s.made_by_kernel} (launch ${s.made_by})` }) : null,
      s.children.length && depth < 12 ? h("ul", {}, s.children.filter((c) => byId[c]).map((c) => node(byId[c], depth + 1))) : null,
    ]);
    const roots = list.filter((s) => !s.parents.some((p) => byId[p]));
    box.replaceChildren(h("ul", {}, roots.map((s) => node(s, 0))));
  },

  async audit() {
    const box = $("#audit");
    const rows = await api(`/api/audit?limit=100`);
    const VERB = { pause: "paused", resume: "resumed", abort: "aborted", hold: "held", release: "released", approve: "approved", reject: "rejected", confirm: "confirmed step", could_not: "could not do step", propose: "proposed a candidate for", resolve: "settled launch" };
    const STATE = { done: "carried out", refused: "refused", pending: "waiting for the controller" };
    box.replaceChildren(...(rows.length ? rows.map((c) => h("li", { "data-command": c.id }, [
      h("span", { class: "muted", text: wallClock(c.created_wall_s) }),
      h("span", { text: c.who }),
      h("span", { class: "what", text: `${VERB[c.kind] || c.kind.replace(/_/g, " ")} ${c.kind === "approve" || c.kind === "reject" ? "experiment " + c.target : c.target}${c.argument ? " as " + c.argument : ""}${c.result ? " — " + c.result : ""}` }),
      badge(c.state === "done" ? "done" : c.state, STATE[c.state] || c.state),
    ])) : [h("li", {}, [empty("no control actions yet")])]));
  },
};

function summaryBlock(c) {
  const s = c.summary;
  const o = c.objectives[0];
  const best = s.best;
  const rows = [
    h("h3", { text: `how it ended: ${word(c.state)} after ${hours(c.virtual_t_s)} of lab time${s.wall_s ? ` (${s.wall_s.toFixed(0)} s of wall time)` : ""}` }),
    h("div", { text: `${s.experiments} experiments: ${s.completed} completed, ${s.failed} failed (chemistry), ${s.abandoned} abandoned (instrument)` }),
  ];
  if (best && o) {
    rows.push(h("div", {}, [h("b", { text: "best: " }), `experiment ${best.experiment}, ${Object.entries(best.objectives).map(([k, v]) => `${k} ${fmtQ(v)}`).join(", ")} at ${params(best.params)}`]));
  }
  if (s.utilisation) {
    rows.push(h("div", { class: "small", text: "utilisation: " + Object.entries(s.utilisation).map(([k, v]) => `${k} ${Math.round(v * 100)} %`).join(", ") }));
  }
  if (s.aborted_by) rows.push(h("div", { class: "error", text: `aborted by ${s.aborted_by}` }));
  return h("div", { class: "summary", id: "summary" }, rows);
}

// -- following one experiment -----------------------------------------------------------------
function select(number) {
  page.selected = number;
  if (number) history.replaceState(null, "", `#experiment-${number}`);
  else history.replaceState(null, "", location.pathname);
  for (const tr of document.querySelectorAll("#experiments tr[data-experiment]")) {
    tr.classList.toggle("selected", Number(tr.dataset.experiment) === number);
  }
  markStale(["timeline", "isotherms", "progress", "samples"]);
}

async function couldNot(st) {
  const dlg = $("#reason-dialog");
  $("#reason-title").textContent = `Could not do it: ${st.text}`;
  $("#reason-input").value = "";
  const ok = await new Promise((resolve) => {
    dlg.onclose = () => resolve(dlg.returnValue === "ok" && $("#reason-input").value.trim());
    dlg.returnValue = "";
    dlg.showModal();
  });
  if (ok) control(`/api/steps/${st.id}/could_not`, `step ${st.id}: could not do it`, { why: $("#reason-input").value.trim() });
}

// -- refreshing -------------------------------------------------------------------------------
function markStale(names) {
  for (const n of names) page.dirty.add(n);
  if (!page.timer) page.timer = setTimeout(refresh, 20);
}

async function refresh() {
  page.timer = null;
  if (page.busy) { page.timer = setTimeout(refresh, 50); return; }
  page.busy = true;
  const names = SECTIONS.filter((n) => page.dirty.has(n));
  page.dirty.clear();
  try {
    if (names.includes("header")) await run("header");
    // the table first: other panels link launches to its experiments
    if (names.includes("experiments")) await run("experiments");
    await Promise.all(names.filter((n) => n !== "header" && n !== "experiments").map(run));
  } finally {
    page.busy = false;
    document.body.dataset.refreshed = String(Date.now());
  }
}

async function run(name) {
  try {
    await render[name]();
  } catch (err) {
    // the server gone: keep what the section showed (the banner says it is as it was then)
    if (!page.serverOk) return;
    const box = { header: null, pending: "#approvals" }[name] ?? `#${name}`;
    const el = box && $(box);
    if (el) el.replaceChildren(h("div", { class: "error", text: String(err.message || err) }));
    console.error(name, err);
  }
}

// -- the live stream --------------------------------------------------------------------------
function follow() {
  if (page.stream) page.stream.close();
  // same-origin EventSource sends the session cookie: no token in any URL
  const es = new EventSource(`/api/stream${page.campaign ? "?" + cq() : ""}`);
  page.stream = es;
  const live = $("#live");
  es.addEventListener("hello", () => {
    live.textContent = "live";
    live.className = "live on";
    serverBack();
    markStale(SECTIONS); // catch up on whatever happened while not connected
  });
  for (const [kind, sections] of Object.entries(STALE)) {
    es.addEventListener(kind, (ev) => {
      document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
      let data = {};
      try { data = JSON.parse(ev.data); } catch (_) { /* keep going */ }
      if (kind === "measurement" && !(data.name || "").startsWith("uptake")) {
        markStale(["progress", "experiments"]);
        return;
      }
      if (kind === "campaign" && data.id && data.id !== page.campaign) {
        markStale(["header"]);
        return;
      }
      markStale(sections);
    });
  }
  es.onerror = () => {
    live.textContent = "reconnecting";
    live.className = "live off";
    // is the server gone, or only the stream? a read tells (and sets the banner)
    api("/api/whoami").then((w) => { page.signedIn = w.signed_in; showSignIn(); }).catch(() => {});
    // the browser retries a dropped stream by itself, but gives up for good on an answer
    // that is not 200 (401 after a restart lost the sessions, 503 when busy): open it again
    if (es.readyState === EventSource.CLOSED && page.stream === es) {
      page.streamRetry = Math.min(30000, (page.streamRetry || 1000) * 2);
      setTimeout(() => { if (page.stream === es) follow(); }, page.streamRetry);
    }
  };
  es.addEventListener("open", () => { page.streamRetry = 0; });
}

// -- start ------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const m = /#experiment-(\d+)/.exec(location.hash);
  if (m) page.selected = Number(m[1]);
  whoami();
  $("#sign-in").addEventListener("click", () => (page.signedIn ? signOut() : signIn()));
  $("#campaign").addEventListener("change", (ev) => {
    page.campaign = ev.target.value;
    page.pinned = true;
    page.selected = null;
    page.kernelColours = {};
    follow();
    markStale(SECTIONS);
  });
  document.querySelectorAll("header button[data-scope=campaign]").forEach((b) => {
    b.addEventListener("click", () => {
      if (!page.campaign) return;
      const kind = b.dataset.action;
      if (kind === "abort" && !confirm(`Abort campaign ${page.campaign}? Running kernels are stopped and instruments made safe.`)) return;
      control(`/api/campaigns/${encodeURIComponent(page.campaign)}/${kind}`, `${kind} ${page.campaign}`);
    });
  });
  setInterval(tick, 1000);
  // a page left open for a week: look again now and then even if the stream is quiet
  setInterval(() => markStale(["header", "now"]), 30000);
  render.header().catch(() => {}).finally(() => {
    follow();
    markStale(SECTIONS);
  });
});
