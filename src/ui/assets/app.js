/* app.js — ferry ui's page: the process trees, the details of a process
 * with ferry's verdict, the migration form, the live view of a migration
 * (its server-sent events) and the history. Uses the JSON API only. */
"use strict";
const $ = sel => document.querySelector(sel);
const state = { peers: [], modes: [], defaults: {}, selected: null, index: [], live: null };

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k === "class") e.className = attrs[k];
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  for (const c of kids) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
function status(text, error) {
  const s = $("#status");
  s.textContent = text;
  s.className = error ? "error" : "";
}
async function api(path, opts) {
  const r = await fetch(path, Object.assign({ headers: { "Content-Type": "application/json" } }, opts || {}));
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}
const kb = v => v >= 1048576 ? (v / 1048576).toFixed(1) + " G" : v >= 1024 ? (v / 1024).toFixed(1) + " M" : v + " K";
const bytes = v => v >= 1 << 30 ? (v / (1 << 30)).toFixed(2) + " GiB" : v >= 1 << 20 ? (v / (1 << 20)).toFixed(1) + " MiB"
  : v >= 1024 ? (v / 1024).toFixed(1) + " KiB" : v + " B";
const ms = v => v === null || v === undefined ? "–" : Number(v).toFixed(1);

/* ---------------------------------------------------------------- trees */
function renderNode(p, parentEntry) {
  const tog = h("span", { class: "tog" }, p.children.length ? "▾" : "");
  const li = h("li", { "data-pid": p.pid });
  const row = h("div", { class: "row", title: `${p.name} (pid ${p.pid}), ${p.children.length} child${p.children.length === 1 ? "" : "ren"}, ${p.threads} thread${p.threads === 1 ? "" : "s"}` },
    tog, h("span", { class: "name" }, p.name), h("span", { class: "pid" }, p.pid), h("span", { class: "thr" }, p.threads),
    h("span", { class: "rss" }, kb(p.rss_kb)), h("span", { class: "st" }, p.state), h("span", { class: "user" }, p.user));
  li.append(row);
  const entry = { li, parent: parentEntry, text: `${p.name} ${p.pid} ${p.user}`.toLowerCase() };
  state.index.push(entry);
  tog.addEventListener("click", ev => { ev.stopPropagation(); li.classList.toggle("collapsed"); tog.textContent = li.classList.contains("collapsed") ? "▸" : "▾"; });
  row.addEventListener("click", () => select(p.pid));
  if (p.children.length) {
    const ul = h("ul");
    for (const c of p.children) ul.append(renderNode(c, entry));
    li.append(ul);
  }
  return li;
}
async function loadTree() {
  const t0 = performance.now();
  const t = await api("/api/processes");
  state.index = [];
  const frag = document.createDocumentFragment();
  for (const p of t.processes) frag.append(renderNode(p, null));
  $("#tree").replaceChildren(frag);
  $("#host").textContent = t.host;
  $("#count").textContent = `${t.count} processes`;
  document.body.dataset.treeMs = (performance.now() - t0).toFixed(0);
  document.body.dataset.treeCount = t.count;
  filter();
  if (state.selected) {
    const li = document.querySelector(`#tree li[data-pid="${state.selected}"]`);
    if (li) li.classList.add("selected");
  }
}
/* shows the matches and their ancestors */
function filter() {
  const q = $("#search").value.trim().toLowerCase();
  const keep = new Set();
  for (const e of state.index) {
    const m = !q || e.text.includes(q);
    e.li.classList.toggle("match", !!q && m);
    if (m) for (let a = e; a && !keep.has(a); a = a.parent) keep.add(a);
  }
  for (const e of state.index) e.li.classList.toggle("filtered", !keep.has(e));
}
function collapseAll(on) {
  for (const e of state.index) {
    if (!e.li.querySelector("ul")) continue;
    e.li.classList.toggle("collapsed", on);
    e.li.querySelector(".tog").textContent = on ? "▸" : "▾";
  }
}

/* ---------------------------------------------------------------- one process */
function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, ...headers.map(x => h("th", {}, x)))),
    h("tbody", {}, ...rows.map(r => h("tr", {}, ...r.map(x => h("td", {}, x))))));
}
async function select(pid) {
  state.selected = pid;
  for (const li of document.querySelectorAll("#tree li.selected")) li.classList.remove("selected");
  const li = document.querySelector(`#tree li[data-pid="${pid}"]`);
  if (li) li.classList.add("selected");
  const d = $("#details");
  let p;
  try {
    p = await api(`/api/processes/${pid}`);
  } catch (e) {
    d.replaceChildren(h("p", { class: "hint" }, e.message));
    return;
  }
  if (state.selected !== pid) return;
  const verdict = p.movable ? h("p", { id: "movable", class: "ok" }, "ferry can move it")
    : h("p", { id: "movable", class: "no" }, "ferry cannot move it: ", h("span", { id: "refusal" }, p.refusal));
  const more = (n, shown, what) => n > shown ? h("p", { class: "hint" }, `${n - shown} more ${what} not shown`) : null;
  d.replaceChildren(...[
    h("h2", {}, `${p.name} `, h("span", { id: "details-pid" }, p.pid)),
    h("p", {}, `user ${p.user} (uid ${p.uid}), state ${p.state}, ${p.threads} thread(s), RSS ${kb(p.rss_kb)}, parent ${p.ppid}, ${p.children.length} child(ren)`),
    h("p", {}, "command line: ", h("code", { id: "cmdline" }, p.cmdline.join(" "))),
    p.exe ? h("p", {}, "executable: ", h("code", {}, p.exe)) : null,
    verdict,
    migrateForm(p),
    h("h3", {}, `open fds (${p.fd_count})`), h("div", { class: "scroll" }, table(["fd", "target"], p.fds.map(f => [f.fd, f.target]))),
    more(p.fd_count, p.fds.length, "fds"),
    h("h3", {}, `mappings (${p.mapping_count})`),
    h("div", { class: "scroll" }, table(["start", "end", "perms", "KiB", "path"], p.mappings.map(m => [m.start, m.end, m.perms, m.kb, m.path]))),
    more(p.mapping_count, p.mappings.length, "mappings")].filter(x => x));
}
function migrateForm(p) {
  if (!state.peers.length) return h("p", { class: "hint" }, "No peer to migrate to: start ferry ui with --peer NAME=HOST:PORT,key-file=FILE.");
  const peer = h("select", { id: "peer" }, ...state.peers.map(x => h("option", { value: x.name }, `${x.name} (${x.address})`)));
  const mode = h("select", { id: "mode" }, ...state.modes.map(m => h("option", { value: m }, m)));
  const limit = h("input", { id: "downtime-limit", type: "number", min: 0, step: 1, value: state.defaults.downtime_limit_ms });
  const iters = h("input", { id: "max-iterations", type: "number", min: 1, max: state.defaults.max_iterations_max, value: state.defaults.max_iterations });
  const knobs = () => { const pre = mode.value === "precopy"; limit.disabled = iters.disabled = !pre; };
  mode.addEventListener("change", knobs);
  knobs();
  const go = h("button", { id: "migrate", type: "submit" }, "migrate");
  go.disabled = !p.movable;
  return h("form", { class: "migrate", onsubmit: ev => { ev.preventDefault(); migrate(p.pid, peer.value, mode.value, +limit.value, +iters.value); } },
    h("label", { for: "peer" }, "migrate to"), peer, h("label", { for: "mode" }, "mode"), mode,
    h("label", { for: "downtime-limit" }, "downtime limit (ms)"), limit, h("label", { for: "max-iterations" }, "max iterations"), iters,
    h("span"), go);
}
async function migrate(pid, peer, mode, limit, iters) {
  const body = { pid, peer, mode };
  if (mode === "precopy") Object.assign(body, { downtime_limit_ms: limit, max_iterations: iters });
  try {
    const t0 = performance.now();
    const r = await api("/api/migrations", { method: "POST", body: JSON.stringify(body) });
    document.body.dataset.postMs = (performance.now() - t0).toFixed(1);
    status(`migration ${r.id} started`);
    follow(r.id);
  } catch (e) {
    status(e.message, true);
  }
}

/* ---------------------------------------------------------------- live */
function follow(id) {
  if (state.live && state.live.source) state.live.source.close();
  const lv = state.live = { id, seen: -1, points: [], marks: [], rows: {}, source: null, drawn: false, pc: [] };
  $("#live").hidden = false;
  $("#live-id").textContent = id;
  $("#live-state").textContent = "running";
  $("#live-state").className = "";
  $("#live-summary").textContent = "";
  $("#live-downtime").textContent = "";
  $("#rounds tbody").replaceChildren();
  $("#bytes-chart").replaceChildren();
  $("#postcopy").hidden = true;
  $("#pc-summary").textContent = "";
  $("#pc-pages-chart").replaceChildren();
  $("#pc-faults-chart").replaceChildren();
  const src = lv.source = new EventSource(`/api/migrations/${id}/events`);
  for (const type of ["start", "round_start", "round", "bytes", "frozen", "postcopy", "done", "failed"])
    src.addEventListener(type, ev => {
      const e = JSON.parse(ev.data);
      if (state.live !== lv || e.seq <= lv.seen) return; /* a reconnect replays from the first */
      lv.seen = e.seq;
      onEvent(lv, e);
    });
}
function roundRow(lv, n) {
  if (!lv.rows[n]) {
    lv.rows[n] = h("tr", { "data-round": n }, ...Array.from({ length: 7 }, (_, i) => h("td", { class: i ? "num" : "" }, i ? "…" : n)));
    $("#rounds tbody").append(lv.rows[n]);
  }
  return lv.rows[n].children;
}
function drawBytes(lv) {
  if (lv.drawn) return;
  lv.drawn = true;
  requestAnimationFrame(() => {
    lv.drawn = false;
    Charts.line($("#bytes-chart"), lv.points, { xLabel: "ms since start", yLabel: "bytes of pages sent", fmt: bytes, marks: lv.marks });
  });
}
/* post-copy, from its start at the peer: the pages sent (the peer places
 * them as they come) and the faults it asked for them, over time */
function drawPostcopy(lv) {
  if (lv.pcDrawn) return;
  lv.pcDrawn = true;
  requestAnimationFrame(() => {
    lv.pcDrawn = false;
    const last = lv.pc[lv.pc.length - 1];
    Charts.line($("#pc-pages-chart"), lv.pc.map(e => ({ t: e.postcopy_ms, v: e.pages })),
      { xLabel: "ms since the start at the peer", yLabel: `pages sent (of ${last.pages_total})`, fmt: v => v.toFixed(0) });
    Charts.line($("#pc-faults-chart"), lv.pc.map(e => ({ t: e.postcopy_ms, v: e.faults_ps })),
      { xLabel: "ms since the start at the peer", yLabel: "faults served per second", fmt: v => v.toFixed(0) });
  });
}
function onPostcopy(lv, e) {
  lv.pc.push(e);
  const box = $("#postcopy"), sum = $("#pc-summary");
  box.hidden = false;
  Object.assign(sum.dataset, { pages: e.pages, pagesTotal: e.pages_total, urgent: e.urgent, readahead: e.readahead,
    bulk: e.bulk, faults: e.faults, points: lv.pc.length, final: e.final });
  sum.textContent = `post-copy${e.final ? " (all sent)" : ""}: ${e.pages} of ${e.pages_total} pages sent ` +
    `(${e.urgent} asked for by a fault, ${e.readahead} read ahead, ${e.bulk} pushed), ${e.faults} faults served; ` +
    `${(e.bytes_ps / (1 << 20)).toFixed(1)} MiB/s, ${e.faults_ps.toFixed(0)} faults/s`;
  drawPostcopy(lv);
}
function onEvent(lv, e) {
  const sum = $("#live-summary"), down = $("#live-downtime");
  switch (e.type) {
  case "start":
    lv.mode = e.mode;
    sum.textContent = `${e.name} (pid ${e.pid}) to ${e.peer}, ${e.mode}` + (e.mode === "precopy" ? `, downtime limit ${e.downtime_limit_ms} ms, at most ${e.max_iterations} rounds` : "");
    lv.points.push({ t: e.t_ms, v: 0 });
    break;
  case "round_start": {
    const c = roundRow(lv, e.round);
    c[1].textContent = e.dirty_pages; c[2].textContent = e.dirty_rate_pps.toFixed(0); c[6].textContent = ms(e.expected_downtime_ms);
    if (e.expected_downtime_ms !== null) down.textContent = `predicted pause: ${ms(e.expected_downtime_ms)} ms`;
    break;
  }
  case "round": {
    const c = roundRow(lv, e.round);
    c[1].textContent = e.dirty_pages; c[2].textContent = e.dirty_rate_pps.toFixed(0); c[3].textContent = e.pages_sent;
    c[4].textContent = bytes(e.wire_bytes); c[5].textContent = ms(e.ms); c[6].textContent = ms(e.expected_downtime_ms);
    break;
  }
  case "bytes":
    lv.points.push({ t: e.t_ms, v: e.bytes });
    drawBytes(lv);
    break;
  case "frozen":
    lv.marks.push({ t: e.t_ms });
    $("#live-state").textContent = "frozen";
    down.textContent = e.rule ? `frozen (${e.rule}): predicted pause ${ms(e.expected_downtime_ms)} ms${e.downtime_fits ? "" : ", above the limit"}`
      : lv.mode === "postcopy" ? "frozen (post-copy: the state and the pages that are not lazy; the rest follows once it runs on the peer)"
      : "frozen (stop-and-copy: the pause is the whole transfer)";
    drawBytes(lv);
    break;
  case "postcopy":
    onPostcopy(lv, e);
    break;
  case "done": {
    const s = e.stats;
    lv.source.close();
    $("#live-state").textContent = "done";
    $("#live-state").className = "state-done";
    down.replaceChildren(`measured pause: `, h("b", { id: "measured-downtime" }, ms(s.downtime_ms)), " ms",
      s.expected_downtime_ms !== undefined ? ` (predicted ${ms(s.expected_downtime_ms)} ms, rule ${s.rule})` : "");
    sum.textContent = `pid ${s.pid} runs on ${s.peer} as pid ${s.dest_pid}: ${s.rounds.length} round(s), ${s.pages_sent} pages, ` +
      `${bytes(s.wire_bytes)} sent in ${ms(s.total_ms)} ms (${s.mbps} Mbit/s)` +
      (s.postcopy ? `; post-copy: ${s.pages_lazy} lazy pages, ${s.postcopy.faults} faults, ${s.postcopy.pages_requested} pages asked for, ` +
        `${s.postcopy.pages_pushed} pushed, fault to page ${ms(s.postcopy.fault_latency_ms.p50)} ms (p50) / ${ms(s.postcopy.fault_latency_ms.p99)} ms (p99), ` +
        `all in place ${ms(s.postcopy.complete_ms)} ms after the start` : "");
    drawBytes(lv);
    loadHistory();
    loadTree().catch(err => status(err.message, true));
    break;
  }
  case "failed":
    lv.source.close();
    $("#live-state").textContent = "failed";
    $("#live-state").className = "state-failed";
    down.replaceChildren(h("span", { id: "live-error" }, `${e.error} (the process is ${e.where})`));
    loadHistory();
    break;
  }
}

/* ---------------------------------------------------------------- history */
async function loadHistory() {
  const { migrations } = await api("/api/migrations");
  $("#history tbody").replaceChildren(...migrations.slice().reverse().map(m => h("tr", { "data-id": m.id, class: `state-${m.state}`, title: m.error || "" },
    h("td", {}, m.id), h("td", {}, m.name), h("td", { class: "num" }, m.pid), h("td", {}, m.peer), h("td", { class: "mode" }, m.mode),
    h("td", { class: "state" }, m.state), h("td", { class: "num" }, m.rounds ?? "–"), h("td", { class: "num" }, ms(m.expected_downtime_ms)),
    h("td", { class: "num downtime" }, ms(m.downtime_ms)), h("td", { class: "num" }, ms(m.total_ms)),
    h("td", { class: "num" }, m.wire_bytes === undefined ? "–" : bytes(m.wire_bytes)))));
  const done = migrations.filter(m => m.state === "done");
  Charts.barsByMode($("#downtime-chart"), done.map(m => ({ id: m.id, mode: m.mode, ms: m.downtime_ms, label: `${m.name} (pid ${m.pid}) to ${m.peer}` })),
    { title: "Process downtime during migration, by mode" });
}

/* ---------------------------------------------------------------- start */
async function start() {
  let t;
  $("#search").addEventListener("input", () => { clearTimeout(t); t = setTimeout(filter, 80); });
  $("#refresh").addEventListener("click", () => loadTree().catch(e => status(e.message, true)));
  $("#expand").addEventListener("click", () => collapseAll(false));
  $("#collapse").addEventListener("click", () => collapseAll(true));
  try {
    const p = await api("/api/peers");
    state.peers = p.peers; state.modes = p.modes; state.defaults = p;
    await loadTree();
    await loadHistory();
    document.body.dataset.ready = "1";
  } catch (e) {
    status(e.message, true);
  }
}
start();
