// hanreader's pages: dashboard, status, login and settings. Plain JavaScript, nothing loaded from
// the internet (the board may have none). Meter values are shown as the exact decimal text the
// device sends ("text" in /api/data), never re-formatted from floats.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const HOUR_S = 3600;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

// fetch, JSON answer or {}: {status, ok, body}; a network failure throws.
async function api(path, options) {
  const response = await fetch(path, Object.assign({cache: "no-store", credentials: "same-origin"}, options));
  let body = {};
  try { body = await response.json(); } catch (e) { /* not JSON: keep {} */ }
  return {status: response.status, ok: response.ok, body: body || {}};
}

// An answer that is not OK, as an error carrying what the device said of it (a 503 when its
// heap is short for a moment).
function refusal(r) {
  const e = new Error(r.status);
  e.said = r.body.error;
  return e;
}

function notice(text) {
  const n = $("notice");
  if (n) { n.textContent = text; n.hidden = !text; }
}

// Runs `step` every `ms`, one request at a time (the device serves a few connections only).
function poll(step, ms) {
  let failed = false;
  async function run() {
    try {
      await step();
      if (failed) notice("");
      failed = false;
    } catch (e) {
      failed = true;
      notice(e.said ? "The device says: " + e.said + "." : "The device does not answer; trying again…");
    }
    setTimeout(run, ms);
  }
  run();
}

function label(name) {  // "voltage_l1" -> "Voltage L1"
  const words = name.replace(/_l([123])$/, " L$1").replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function shown(value) {
  return value.unit ? value.text + " " + value.unit : value.text;
}

function rows(table, pairs) {  // [[heading, text], ...] as a two-column table
  table.replaceChildren();
  for (const [heading, text] of pairs) {
    const tr = el("tr");
    tr.append(el("th", heading), el("td", text, "n"));
    table.append(tr);
  }
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  return (d ? d + " d " : "") + (d || h ? h + " h " : "") + (d || h || m ? m + " min " : "") + s + " s";
}

// After a restart was asked for: wait until the device answers again, then reload the page.
function waitForRestart() {
  setTimeout(async function again() {
    try {
      const r = await api("/api/session");
      if (r.ok) { location.reload(); return; }
    } catch (e) { /* still restarting */ }
    setTimeout(again, 1000);
  }, 3000);
}

async function reboot(message) {
  const session = (await api("/api/session")).body;
  if (!session.logged_in) {
    location.href = "/login?next=" + location.pathname;
    return;
  }
  const r = await api("/api/reboot", {method: "POST", headers: {"X-CSRF-Token": session.csrf}});
  message.textContent = r.ok ? "Restarting…" : (r.body.error || "Refused (" + r.status + ")");
  if (r.ok) waitForRestart();
}

// --- dashboard ---

const PHASE_ROWS = [["Voltage", "voltage_l"], ["Current", "current_l"], ["Power import", "power_import_l"],
  ["Power export", "power_export_l"], ["Power factor", "power_factor_l"]];
const IDENTITY = ["list_version", "meter_id", "meter_type", "device_name"];

function dashboard() {
  let readings = -1;
  let count = 0;        // samples the device has numbered so far (/api/history)
  let points = [];      // [time in s (this browser's clock), watts]
  addEventListener("resize", () => draw(points));  // one chart unit a pixel, whatever the width

  poll(async () => {
    const r = await api("/api/data");
    if (!r.ok) throw refusal(r);
    const data = r.body;
    if (data.readings !== readings) {
      readings = data.readings;
      render(data);
      await history();
    }
    frameTime(data);
    draw(points);
  }, POLL_MS);

  async function history() {
    let r = await api("/api/history?after=" + count);
    if (r.ok && r.body.count < count) {  // the device restarted: start again
      points = [];
      r = await api("/api/history?after=0");
    }
    if (!r.ok) return;
    const now = Date.now() / 1000;
    for (const [age, watts] of r.body.points) points.push([now - age, watts]);
    count = r.body.count;
    points = points.filter((p) => p[0] > now - HOUR_S);
  }
}

function render(data) {
  const byName = {};  // the first value of each friendly name
  for (const v of data.values) if (v.name && !(v.name in byName)) byName[v.name] = v;
  const used = new Set();
  const use = (v) => { used.add(v); return shown(v); };

  for (const id of ["power_import", "power_export"]) $(id).textContent = byName[id] ? use(byName[id]) : "–";

  // Phases: only those the meter reports (a single-phase meter shows L1 alone, not zeros).
  const phases = [1, 2, 3].filter((p) => PHASE_ROWS.some(([, n]) => (n + p) in byName));
  const table = $("phases");
  table.replaceChildren();
  if (phases.length) {
    const head = el("tr");
    head.append(el("th", ""));
    for (const p of phases) head.append(el("th", "L" + p, "n"));
    table.append(head);
    for (const [title, n] of PHASE_ROWS) {
      if (!phases.some((p) => (n + p) in byName)) continue;
      const tr = el("tr");
      tr.append(el("th", title));
      for (const p of phases) {
        const td = el("td", byName[n + p] ? use(byName[n + p]) : "", "n");
        td.id = n + p;
        tr.append(td);
      }
      table.append(tr);
    }
  }
  $("phases-card").hidden = !phases.length;

  const energy = data.values.filter((v) => v.name && v.name.indexOf("energy") >= 0);
  rows($("energy"), energy.map((v) => [label(v.name), use(v)]));
  $("energy-card").hidden = !energy.length;

  const meter = data.meter, identity = [];
  for (const [key, title] of [["manufacturer", "Manufacturer"], ["model", "Model"], ["id", "Meter ID"], ["list", "List"]]) {
    if (meter[key]) identity.push([title, meter[key]]);
  }
  rows($("meter"), identity);
  const known = Object.values(meter);
  for (const v of data.values) if (IDENTITY.includes(v.name) && known.includes(v.text)) used.add(v);

  const other = data.values.filter((v) => !used.has(v));
  rows($("other"), other.map((v) => [v.name ? label(v.name) : v.obis, shown(v)]));
  $("other-card").hidden = !other.length;
}

function frameTime(data) {
  const target = $("frame-time");
  if (data.age_s === null) {
    target.textContent = "none yet (the Status page says what the device receives)";
    return;
  }
  const received = "received " + duration(data.age_s) + " ago";
  target.textContent = data.time ? data.time.replace("T", " ") + " (meter clock), " + received : received;
}

function niceStep(raw) {
  const unit = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5]) if (m * unit >= raw) return m * unit;
  return 10 * unit;
}

function svg(tag, attributes, text) {
  const e = document.createElementNS(SVG, tag);
  for (const key in attributes) e.setAttribute(key, attributes[key]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The last hour of net power as a line; the time axis moves with the clock.
function draw(points) {
  const chart = $("chart");
  const W = Math.max(280, Math.round(chart.clientWidth) || 600), H = 220, LEFT = 56, RIGHT = 8, TOP = 10, BOTTOM = 24;
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);  // one SVG unit a pixel: labels stay readable on phones
  const now = Date.now() / 1000, start = now - HOUR_S;
  const visible = points.filter((p) => p[0] >= start);
  let low = 0, high = 0;
  for (const [, w] of visible) { low = Math.min(low, w); high = Math.max(high, w); }
  const step = niceStep(Math.max((high - low) / 4, 50));
  low = Math.floor(low / step) * step;
  high = Math.max(Math.ceil(high / step) * step, low + step);
  const x = (t) => LEFT + (t - start) / HOUR_S * (W - LEFT - RIGHT);
  const y = (w) => TOP + (high - w) / (high - low) * (H - TOP - BOTTOM);
  const grid = $("grid");
  grid.replaceChildren();
  for (let w = low; w <= high; w += step) {
    grid.append(svg("line", {x1: LEFT, x2: W - RIGHT, y1: y(w), y2: y(w), class: w === 0 ? "zero" : ""}));
    grid.append(svg("text", {x: LEFT - 6, y: y(w) + 4, "text-anchor": "end"}, Math.abs(high - low) >= 10000
      ? w / 1000 + " kW" : w + " W"));
  }
  for (const [minutes, anchor] of [[60, "start"], [30, "middle"], [0, "end"]]) {
    grid.append(svg("text", {x: x(now - minutes * 60), y: H - 6, "text-anchor": anchor},
      minutes ? "−" + minutes + " min" : "now"));
  }
  $("line").setAttribute("points", visible.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" "));
  const last = visible[visible.length - 1];  // the latest reading as a dot: visible even alone
  $("last").setAttribute("cx", last ? x(last[0]).toFixed(1) : -10);
  $("last").setAttribute("cy", last ? y(last[1]).toFixed(1) : -10);
}

// --- status ---

function statusPage() {
  const set = (id, text) => { $(id).textContent = text; };
  poll(async () => {
    const r = await api("/api/status");
    if (!r.ok) throw refusal(r);
    const s = r.body;
    set("diagnosis", s.diagnosis.text);
    set("serial", s.serial || "–");
    set("rx_pin", "GPIO" + s.rx_pin);
    for (const key of ["bytes", "good", "checksum", "decrypt", "unknown"]) set(key, String(s[key]));
    set("errors", Object.entries(s.errors).map(([code, n]) => code + " " + n).join(", ") || "none");
    set("heap_free", s.heap_free + " B");
    set("uptime", duration(s.uptime_s));
    set("reset_cause", s.reset_cause);
    set("wifi", s.wifi);
    set("rssi", s.rssi === null ? "–" : s.rssi + " dBm");
    set("mqtt", s.mqtt);
    set("loop_stall", s.loop_stall_ms + " ms");
    set("frame_ms", s.frame_ms + " ms (longest " + s.frame_ms_max + " ms)");
    const last = s.last_error;
    set("last_error", last ? last.code + ": " + last.detail : "none");
    $("last_error_hex").hidden = !(last && last.hex);
    if (last && last.hex) set("last_error_hex", last.hex.match(/.{1,2}/g).join(" ").toUpperCase());
    if (s.safe_mode) notice("Safe mode: the device restarted too often, so it does not read the meter; " +
      "the settings and this page work. It tries a normal start after 15 minutes, or restart it.");
  }, POLL_MS);
  $("reboot").onclick = () => reboot($("reboot-msg"));
}

// --- login ---

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/config";
  return /^\/[a-z]*$/.test(next) ? next : "/config";  // only our own pages
}

async function loginPage() {
  const session = (await api("/api/session")).body;
  if (session.logged_in) { location.replace(nextPage()); return; }
  const form = $(session.password_set ? "login" : "choose");
  form.hidden = false;
  form.elements.password.focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const r = await api(session.password_set ? "/api/login" : "/api/password",
      {method: "POST", body: new URLSearchParams(new FormData(form))});
    if (r.ok) { location.replace(nextPage()); return; }
    message(form, "password", r.body.errors ? r.body.errors.password : r.body.error || "Refused (" + r.status + ")");
  };
}

function message(form, name, text, warning) {
  const target = form.querySelector('.msg[data-for="' + name + '"]');
  if (target) { target.textContent = text || ""; target.classList.toggle("warn", !!warning); }
  const input = form.elements[name];
  if (input && input.classList) input.classList.toggle("bad", !!text && !warning);
}

// --- settings ---

async function configPage() {
  const session = (await api("/api/session")).body;
  const r = await api("/api/config");
  if (r.status === 401) { location.replace("/login?next=/config"); return; }
  if (session.safe_mode) notice("Safe mode: the device restarted too often, so only the settings and " +
    "status pages run. Fix what is wrong here; it tries a normal start after 15 minutes.");
  const form = $("settings");
  for (const input of form.querySelectorAll("[name]")) {  // a line for messages under every field
    const line = el("small", "", "msg");
    line.dataset.for = input.name;
    (input.closest("label") || input).after(line);
  }
  fill(form, r.body);
  form.hidden = false;
  form.onsubmit = (event) => { event.preventDefault(); save(form, session.csrf); };
  $("reboot").onclick = () => reboot($("result"));
  $("logout").onclick = async () => {
    await api("/api/logout", {method: "POST", headers: {"X-CSRF-Token": session.csrf}});
    location.replace("/");
  };
}

function fill(form, config) {
  for (const input of form.querySelectorAll("[name]")) {
    const [section, field] = input.name.split(".");
    if (!config[section] || !(field in config[section])) continue;
    const value = config[section][field];
    if (input.type === "checkbox") {
      input.checked = value;
    } else if (input.dataset.secret !== undefined) {  // never sent back: only whether it is set
      input.value = "";
      input.placeholder = value === "set" ? "set; leave empty to keep it" : "not set";
      const tag = el("span", value, "tag");
      tag.dataset.secret = input.name;
      input.closest("label").firstChild.after(tag);
      if (value === "set") {
        const clear = el("label", undefined, "clear");
        const box = el("input");
        box.type = "checkbox";
        box.name = "clear." + input.name;
        clear.append(box, " remove the stored one");
        input.closest("label").after(clear);
      }
    } else {
      input.value = String(value);
    }
  }
}

async function save(form, csrf) {
  const body = new URLSearchParams();
  for (const input of form.querySelectorAll("[name]")) {
    const name = input.name;
    if (input.type === "checkbox") {
      if (!name.startsWith("clear.")) body.append(name, input.checked ? "true" : "false");
      else if (input.checked) body.append(name, "true");
    } else if (input.value !== "" || (input.dataset.secret === undefined && !name.startsWith("web.password"))) {
      body.append(name, input.value);  // an empty secret is left out: the stored one stays
    }
  }
  for (const line of form.querySelectorAll(".msg")) message(form, line.dataset.for, "");
  const result = $("result");
  result.className = "";
  result.textContent = "Saving…";
  const r = await api("/api/config", {method: "POST", headers: {"X-CSRF-Token": csrf}, body});
  for (const name in r.body.warnings || {}) message(form, name, r.body.warnings[name], true);
  if (r.status === 422) {
    const errors = r.body.errors;
    for (const name in errors) message(form, name, errors[name]);
    const count = Object.keys(errors).length;
    result.className = "bad";
    result.textContent = "Nothing was saved: " + count + (count === 1 ? " setting needs" : " settings need") + " attention.";
    const first = form.querySelector("input.bad");
    if (first) first.focus();
  } else if (r.status === 401) {
    location.replace("/login?next=/config");
  } else if (r.ok) {
    result.textContent = !r.body.saved ? "Nothing changed." : r.body.restart
      ? "Saved. The device restarts to apply the settings…" : "Saved.";
    if (r.body.restart) waitForRestart();
  } else {
    result.className = "bad";
    result.textContent = r.body.error || "Refused (" + r.status + ")";
  }
}

const PAGES = {dashboard, status: statusPage, login: loginPage, config: configPage};
PAGES[document.body.dataset.page]();
