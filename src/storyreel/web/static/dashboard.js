// storyreel dashboard: polls /dashboard/api/state and redraws. Read-only; all text is
// set with textContent, so hostile file names and log lines cannot inject markup.
// The state is FarmState.model_dump() (storyreel/farmstate/model.py), the same document
// `storyreel status --json` prints.
"use strict";

const POLL_MS = 2000;
// Nodes not heard from for longer than this are hidden from the node table (s).
const OFFLINE_HIDDEN_AFTER = 86400;
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

const fmt = {
  num: (v, digits = 1, unit = "") => (v === null || v === undefined ? "—" : `${Number(v).toFixed(digits)}${unit}`),
  dur(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Number(seconds);
    if (s < 120) return `${s.toFixed(1)}s`;
    if (s < 7200) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  },
  ago(ts, now) {
    if (ts === null || ts === undefined) return "—";
    const d = Math.max(0, now - ts);
    if (d < 60) return `${Math.round(d)}s ago`;
    if (d < 3600) return `${Math.round(d / 60)}m ago`;
    if (d < 86400) return `${(d / 3600).toFixed(1)}h ago`;
    return `${(d / 86400).toFixed(1)}d ago`;
  },
  time: (ts) => new Date(ts * 1000).toLocaleTimeString(),
  gb: (bytes) => `${(bytes / 1e9).toFixed(1)}GB`,
  span(seconds) {
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
      if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
    }
    return `${seconds}s`;
  },
};

function card(label, value, sub, bad) {
  return el("div", { class: bad ? "card bad" : "card" },
    el("div", { class: "value", text: value }), el("div", { class: "label", text: label }),
    sub ? el("div", { class: "sub", text: sub }) : null);
}

function fillBody(table, rows, emptyText, columns) {
  const body = $(table).tBodies[0];
  if (!rows.length) rows = [[el("td", { class: "empty", colspan: String(columns), text: emptyText })]];
  body.replaceChildren(...rows.map((cells) => el("tr", {}, ...cells)));
  // Column names ride along on each cell so narrow screens can show rows as cards.
  const labels = [...$(table).tHead.rows[0].cells].map((cell) => cell.textContent);
  for (const row of body.rows) [...row.cells].forEach((cell, i) => cell.setAttribute("data-label", labels[i] || ""));
}

const td = (text, cls) => el("td", cls ? { class: cls, text } : { text });

function progressBar(fraction) {
  if (fraction === null || fraction === undefined) return el("span", { class: "muted", text: "—" });
  const pct = Math.round(fraction * 100);
  const bar = el("div", { class: "progress", role: "progressbar", "aria-valuenow": String(pct),
    "aria-valuemin": "0", "aria-valuemax": "100" });
  const fill = el("div");
  fill.style.width = `${pct}%`;
  bar.append(fill, el("span", { text: `${pct}%` }));
  return bar;
}

function drawQueues(state) {
  const q = state.queues;
  const scanned = ["story", "video", "frame", "music"].map((k) => `${k} ${q["scanned/" + k]}`).join(" · ");
  $("queues").replaceChildren(
    card("raw/ waiting", q.raw),
    card("scanned/", ["story", "video", "frame", "music"].reduce((n, k) => n + q["scanned/" + k], 0), scanned),
    card("tasks/ queued", q.tasks),
    card("processing/", q.processing),
    card("output/ finished", q.output),
    card("trash/failed/", q["trash/failed"], null, q["trash/failed"] > 0),
    card("trash/invalid/", q["trash/invalid"], null, q["trash/invalid"] > 0),
  );
}

function drawNodes(state) {
  const util = Object.fromEntries(state.metrics.window.nodes.map((n) => [n.node, n.render_utilization]));
  const rows = [];
  for (const node of recentNodes(state)) {
    const tasks = node.tasks.length ? node.tasks : [{ task_id: "", stage: "", progress: null, eta: null }];
    tasks.forEach((task, i) => {
      const first = i === 0;
      const stateCell = el("td", {}, first ? el("span", { class: `state ${node.live ? "live" : node.state}`, text: node.state }) : "");
      rows.push([
        td(first ? node.node : ""), td(first ? node.host : ""), td(first ? node.encoder : ""), stateCell,
        td(first ? fmt.ago(node.last_seen, state.now) : ""),
        el("td", { title: task.task_id, text: task.task_id ? taskLabel(state, task.task_id) + (task.stage ? ` · ${task.stage}` : "") : "idle" }),
        el("td", {}, task.task_id ? progressBar(task.progress) : ""),
        td(task.task_id ? fmt.dur(task.eta) : "", "num"),
        td(first ? fmt.num(util[node.node], 0, "%") : "", "num"),
      ]);
    });
  }
  fillBody("nodes", rows, "No node has registered yet.", 9);
}

// The nodes worth a row: every live one, and the others heard from within a day. How
// many were left out is said below the table.
function recentNodes(state) {
  const stale = (n) => !n.live && n.state !== "busy" && (n.last_seen === null || n.last_seen === undefined
    || state.now - n.last_seen > OFFLINE_HIDDEN_AFTER);
  const hidden = state.nodes.filter(stale).length;
  const note = $("nodes-hidden");
  note.hidden = hidden === 0;
  note.textContent = hidden ? `${hidden} ${hidden === 1 ? "node" : "nodes"} offline for over a day not shown.` : "";
  return state.nodes.filter((n) => !stale(n));
}

function drawMetrics(state) {
  const m = state.metrics, w = m.window, a = m.since_start;
  $("window-label").textContent = `last ${fmt.span(m.window_seconds)} · since start`;
  const shown = (v, digits, unit) => fmt.num(v, v !== null && Math.abs(v) >= 100 ? 0 : digits, unit);
  const pair = (v1, v2, digits, unit) => [shown(v1, digits, unit), `since start ${shown(v2, digits, unit)}`];
  $("metrics").replaceChildren(
    card("render utilization", ...pair(w.render_utilization, a.render_utilization, 0, "%")),
    card("avg render time / video", ...pair(w.avg_render_time, a.avg_render_time, 1, "s")),
    card("render time / output min", ...pair(w.render_seconds_per_output_minute, a.render_seconds_per_output_minute, 1, "s")),
    card("throughput (tasks/h)", ...pair(w.task_throughput, a.task_throughput, 1, "")),
    card("I/O per task", ...pair(w.io_overhead, a.io_overhead, 1, "s")),
    card("I/O not hidden", ...pair(w.io_exposed, a.io_exposed, 1, "s")),
    card("completed", String(a.tasks_completed), `last ${fmt.span(m.window_seconds)}: ${w.tasks_completed}`),
    card("failed", String(a.tasks_failed), `requeued ${a.tasks_requeued}`, a.tasks_failed > 0),
  );
  fillBody("speeds", a.speeds.map((s) => [td(s.node), td(s.encoder || "?"), td(String(s.renders), "num"),
    td(fmt.num(s.speed, 2, "×"), "num")]), "No render has finished yet.", 4);
  drawChart(m.timeline);
}

function drawChart(points) {
  const chart = $("chart");
  const W = 600, H = 200, pad = 4;
  chart.replaceChildren();
  if (!points.length) return;
  const maxDone = Math.max(1, ...points.map((p) => p.completed));
  const step = (W - 2 * pad) / points.length;
  for (const y of [0.25, 0.5, 0.75]) {
    chart.append(svg("line", { x1: 0, x2: W, y1: H * y, y2: H * y, stroke: "currentColor", "stroke-opacity": 0.1 }));
  }
  points.forEach((p, i) => {
    const h = (p.completed / maxDone) * (H - 20);
    const bar = svg("rect", { x: pad + i * step + 1, y: H - h, width: Math.max(1, step - 2), height: h,
      fill: "var(--accent)", "fill-opacity": 0.5 });
    const title = svg("title", {});
    title.textContent = `${fmt.time(p.start)}–${fmt.time(p.end)}: ${p.completed} completed, ` +
      `utilization ${fmt.num(p.render_utilization, 0, "%")}`;
    bar.append(title);
    chart.append(bar);
  });
  const coords = points.map((p, i) => p.render_utilization === null ? null
    : `${(pad + (i + 0.5) * step).toFixed(1)},${(H - (p.render_utilization / 100) * (H - 8) - 4).toFixed(1)}`);
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      chart.append(svg("polyline", { points: run.join(" "), fill: "none", stroke: "var(--ok)", "stroke-width": 2.5,
        "vector-effect": "non-scaling-stroke" }));
    } else if (run.length === 1) {  // a lone point: a short tick, so it still shows
      const [x, y] = run[0].split(",").map(Number);
      chart.append(svg("line", { x1: x - step / 3, x2: x + step / 3, y1: y, y2: y, stroke: "var(--ok)",
        "stroke-width": 3, "vector-effect": "non-scaling-stroke" }));
    }
    run = [];
  };
  coords.forEach((c) => (c === null ? flush() : run.push(c)));
  flush();
  drawChartAxes(points, maxDone);
  $("chart-range").textContent = `· ${fmt.time(points[0].start)} – ${fmt.time(points[points.length - 1].end)}, ` +
    `max ${maxDone} per step`;
}

// -- names, finished videos, waiting chapters, tasks in hand ---------------------------
// Every task is shown by its chapter (category/story chapter N); the uuid is short and
// secondary. Finished rows link to the video, played here (seeking uses HTTP Range).

const SHORT_ID = 8;
const videoUrl = (id, name = "final.mp4") => `/dashboard/videos/${encodeURIComponent(id)}/${name}`;

function taskLabel(state, id) {
  const name = (state.names || {})[id];
  return name && name.label && name.label !== "?" ? name.label : id.slice(0, SHORT_ID);
}

function nameCell(state, id) {
  const label = taskLabel(state, id), short = id.slice(0, SHORT_ID);
  return el("td", { title: id }, el("span", { text: label }),
    label === short ? null : el("span", { class: "muted id", text: ` ${short}` }));
}

function playVideo(state, id) {
  const player = $("player");
  $("player-title").textContent = taskLabel(state, id);
  $("player-download").href = `${videoUrl(id)}?download=1`;
  $("player-section").hidden = false;
  player.dataset.task = id;
  player.src = videoUrl(id);
  player.play().catch(() => {});  // a browser may refuse sound without a click: the controls remain
  $("player-section").scrollIntoView({ block: "nearest" });
}

function videoCell(state, c) {
  if (c.video_bytes === null || c.video_bytes === undefined) return td("(moved away)", "muted");
  const play = el("a", { href: videoUrl(c.task_id), class: "play", text: "▶ play" });
  play.addEventListener("click", (event) => { event.preventDefault(); playVideo(state, c.task_id); });
  const save = el("a", { href: `${videoUrl(c.task_id)}?download=1`, download: "", class: "download", text: "download" });
  return el("td", {}, play, " · ", save);
}

function withWarning(cell, warning) {
  // A finished video whose captions skip much of its text says so under its name.
  if (warning) cell.append(el("div", { class: "caption-warning", style: "color: var(--warn)", text: `captions: ${warning}` }));
  return cell;
}

// The chart's axes: tasks completed per step on the left (0 to the tallest bar),
// utilization 0–100 % on the right, the time span below.
function drawChartAxes(points, maxDone) {
  $("chart-y-max").textContent = String(maxDone);
  $("chart-x-start").textContent = points.length ? fmt.time(points[0].start) : "";
  $("chart-x-end").textContent = points.length ? fmt.time(points[points.length - 1].end) : "";
}

function drawDone(state) {
  fillBody("completed", state.recent_completed.map((c) => [
    withWarning(nameCell(state, c.task_id), c.caption_warning), td(c.node), td(fmt.dur(c.media_seconds), "num"),
    td(fmt.ago(c.when, state.now)), videoCell(state, c),
  ]), "No task has finished yet.", 5);
}

function drawWaiting(state) {
  const waiting = state.waiting || [];
  $("waiting-section").hidden = !waiting.length;
  fillBody("waiting", waiting.map((w) => [
    el("td", { title: w.chapter, text: w.name.label }), td(`waiting: ${w.detail}`, "reason"),
  ]), "No chapter waits.", 2);
}

function drawTasks(state) {
  const tasks = state.tasks || [];
  const shown = tasks.length, total = state.queues.tasks + state.queues.processing;
  $("tasks-more").textContent = total > shown ? `showing ${shown} of ${total}; storyreel tasks ROOT lists all` : "";
  fillBody("tasks", tasks.map((t) => [
    nameCell(state, t.task_id), td(t.state), td(t.node || "—"), td(fmt.ago(t.since, state.now)),
  ]), "No task is queued or rendering.", 4);
  const rows = $("tasks").tBodies[0].rows;
  tasks.forEach((t, i) => { if (rows[i]) rows[i].dataset.taskId = t.task_id; });
}

function drawFailures(state) {
  const items = state.recent_failures.map((f) => el("div", { class: "failure" },
    el("div", { class: "reason", text: f.reason }),
    el("div", { class: "muted", text: `${taskLabel(state, f.task_id)} · ${f.task_id.slice(0, SHORT_ID)} · ${fmt.ago(f.when, state.now)}` }),
    f.stderr_tail.length ? el("details", {}, el("summary", { text: "stderr tail" }),
      el("pre", { text: f.stderr_tail.join("\n") })) : null));
  $("failures").replaceChildren(...(items.length ? items : [el("p", { class: "empty", text: "No failed task." })]));
  fillBody("invalid", Object.entries(state.invalid_reasons).map(([reason, count]) =>
    [td(String(count), "num"), td(reason, "reason")]), "No rejected file.", 2);
}

function drawHeader(state) {
  $("root").textContent = state.root;
  $("updated").textContent = `updated ${fmt.time(state.now)}` + (state.coordinator ? "" : " · coordinator not running");
  const disk = state.disk;
  $("disk").textContent = `disk ${fmt.gb(disk.free_bytes)} free`;
  const banner = $("banner");
  banner.hidden = !disk.paused;
  banner.textContent = disk.paused
    ? `Low disk space: ${fmt.gb(disk.free_bytes)} remaining, below the ${fmt.gb(disk.floor_bytes)} floor. No task is planned or claimed until space returns.`
    : "";
  $("logout").hidden = document.body.dataset.logout !== "on";
}

function draw(state) {
  drawHeader(state);
  drawQueues(state);
  drawNodes(state);
  drawMetrics(state);
  drawWaiting(state);
  drawTasks(state);
  drawDone(state);
  drawFailures(state);
  drawLog(state);
  document.body.dataset.ready = "1";
}

// The log box ends with the newest line and stays scrolled to it, unless the reader
// has scrolled up to read older lines.
function drawLog(state) {
  const box = $("log");
  const following = box.dataset.drawn !== "1" || box.scrollHeight - box.scrollTop - box.clientHeight < 8;
  box.textContent = state.log_tail.join("\n") || "(no log lines yet)";
  box.dataset.drawn = "1";
  if (following) box.scrollTop = box.scrollHeight;
}

async function poll() {
  try {
    const response = await fetch("/dashboard/api/state", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.href = "/dashboard/login"; return; }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    draw(await response.json());
  } catch (err) {
    $("updated").textContent = `cannot reach the coordinator (${err.message}); retrying`;
  }
  setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", poll);
