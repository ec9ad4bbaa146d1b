// storyreel dashboard, the Steer section: polls /dashboard/api/board (the tasks and nodes
// that can be steered, SteerBoard in storyreel/protocol.py) and POSTs the buttons' actions
// to /dashboard/api/control with the page's CSRF token. All text is set with textContent.
// Loaded after dashboard.js, whose `el` builds the elements.
"use strict";

(() => {
  const BOARD_MS = 3000;
  const byId = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const LABELS = { cancel: "Cancel", retry: "Retry", replan: "Replan", pause: "Pause", resume: "Resume",
    drain: "Drain" };
  const DANGER = new Set(["cancel", "pause"]);
  let busy = false;  // one action at a time; the board is not redrawn under a pressed button

  function say(text, ok) {
    const box = byId("steer-result");
    box.textContent = text;
    box.className = `steer-result ${ok ? "ok" : "bad"}`;
  }

  async function act(action, target, button) {
    if (busy) return;
    busy = true;
    button.disabled = true;
    try {
      const response = await fetch("/dashboard/api/control", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ action, target }),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) say(answer.message || `${action} done`, true);
      else say(`${LABELS[action] || action} refused: ${answer.detail || `HTTP ${response.status}`}`, false);
    } catch (err) {
      say(`cannot reach the dashboard (${err.message})`, false);
    } finally {
      busy = false;
      button.disabled = false;
      refresh();
    }
  }

  function buttons(actions, target) {
    const cell = el("div", { class: "steer-actions" });
    for (const action of actions) {
      const button = el("button", { type: "button", class: DANGER.has(action) ? "danger" : "",
        "data-action": action, "data-target": target, text: LABELS[action] || action });
      button.addEventListener("click", () => act(action, target, button));
      cell.append(button);
    }
    return el("td", {}, cell);
  }

  function rows(table, lines, emptyText, columns) {
    const body = byId(table).tBodies[0];
    if (!lines.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: String(columns), class: "empty", text: emptyText })));
      return;
    }
    body.replaceChildren(...lines.map((cells) => el("tr", {}, ...cells)));
  }

  function draw(board) {
    const cell = (text, props) => el("td", { ...(props || {}), text: text || "" });
    rows("steer-tasks", board.tasks.map((t) => {
      const tr = [cell(t.category), cell(t.story), cell(t.chapter),
        el("td", {}, el("span", { class: `state ${t.state}`, text: t.state })), cell(t.node),
        cell(t.task_id.slice(0, 8), { title: t.task_id }), cell(t.reason, { class: "reason" }),
        buttons(t.actions, t.task_id)];
      return tr;
    }), "No task is queued, rendering or failed.", 8);
    rows("steer-nodes", board.nodes.map((n) => [cell(n.node),
      el("td", {}, el("span", { class: `state ${n.state}`, text: n.state })), cell(n.reason, { class: "reason" }),
      buttons(n.actions, n.node)]), "No node has registered yet.", 4);
    document.body.dataset.steerReady = "1";
  }

  async function refresh() {
    if (busy) return;
    try {
      const response = await fetch("/dashboard/api/board", { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        say(`steering unavailable: ${answer.detail || `HTTP ${response.status}`}`, false);
        return;
      }
      draw(await response.json());
    } catch (err) {
      say(`cannot reach the dashboard (${err.message})`, false);
    }
  }

  async function poll() {
    await refresh();
    setTimeout(poll, BOARD_MS);
  }

  document.addEventListener("DOMContentLoaded", poll);
})();
