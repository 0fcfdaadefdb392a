// labs: the little the browser does beyond htmx. CSRF header on htmx requests, resume-from-seq on
// every websocket (re)connect, the connection indicator, the countdown, client ids for notes and
// an offline queue so a note typed on bad venue Wi-Fi is sent exactly once when the link is back.
(() => {
  "use strict";

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // --- CSRF on every htmx request (forms carry _csrf_token; buttons do not) ----------------
  document.addEventListener("htmx:config:request", (evt) => {
    const token = csrfToken();
    if (token) evt.detail.ctx.request.headers["X-CSRFToken"] = token;
  });

  // --- live stream: resume after the last applied seq ----------------------------------------
  const lastSeq = () => document.getElementById("live-seq")?.dataset.seq || "0";

  document.addEventListener("htmx:ws:before:connection", (evt) => {
    const connection = evt.detail.connection;
    const url = new URL(connection.url);
    url.searchParams.set("after", lastSeq());
    connection.url = url.toString();
    setConnection("connecting");
  });
  document.addEventListener("htmx:ws:after:connection", () => {
    setConnection("connected");
    flushQueue();
  });
  document.addEventListener("htmx:ws:close", () => setConnection("offline"));
  window.addEventListener("offline", () => setConnection("offline"));

  // hx-ws backs off between retries, and a socket opened during a network drop can hang without
  // ever closing. When the network is back, or the page has been offline for a while, replace the
  // link element: htmx drops the old connection and opens a fresh one (resuming from lastSeq).
  let offlineSince = 0;
  function reconnectNow() {
    const link = document.getElementById("live-link");
    if (!link || document.body.dataset.connection === "connected" || !window.htmx) return;
    const fresh = link.cloneNode(false);
    fresh.removeAttribute("data-htmx-powered");
    link.replaceWith(fresh);
    htmx.process(fresh);
  }
  window.addEventListener("online", reconnectNow);
  setInterval(() => {
    if (document.body.dataset.connection === "connected") { offlineSince = 0; return; }
    offlineSince = offlineSince || Date.now();
    if (navigator.onLine && Date.now() - offlineSince > 8000) { offlineSince = Date.now(); reconnectNow(); }
  }, 2000);

  function setConnection(state) {
    const el = document.getElementById("connection");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = el.dataset[state] || state;
    document.body.dataset.connection = state;
  }

  // --- the wall: pinned first then newest, bounded, filtered, "new notes" on the phone -------
  // Frames upsert note cards into #wall sorted by data-order (pinned above all, then newest). A
  // card that is replaced in place (pinned, unpinned) is moved to where its order puts it; cards
  // the console's filter does not match are dropped; past data-limit the oldest leave the live
  // wall (they are a page away under "Older notes"), so a 1,000-note session stays light. On the
  // phone, notes that arrive while the reader is further down wait behind the "new notes" button.
  const order = (card) => Number(card.dataset.order || 0);
  const noteId = (card) => Number(card.id.slice(5));

  function matches(wall, card) {
    const f = wall.dataset;
    if (f.filterKind && card.dataset.kind !== f.filterKind) return false;
    if (f.filterCluster && card.dataset.cluster !== f.filterCluster) return false;
    if (f.filterHidden) return card.classList.contains("hidden-note") === (f.filterHidden === "only");
    return true;
  }

  function place(wall, card) {
    const prev = card.previousElementSibling, next = card.nextElementSibling;
    if ((!prev || order(prev) > order(card)) && (!next || order(next) < order(card))) return;
    const after = Array.from(wall.children).find((c) => c !== card && order(c) < order(card));
    wall.insertBefore(card, after || null);
  }

  function reading(wall) {
    return wall.dataset.incoming === "hold" && wall.getBoundingClientRect().top < 0;
  }

  // Notes that arrived while reading (some may have left the bounded wall for "Older notes").
  let arrived = 0;

  function showIncoming() {
    document.querySelectorAll("#wall .note.incoming").forEach((c) => c.classList.remove("incoming"));
    arrived = 0;
    updateIncoming();
  }

  function updateIncoming() {
    const button = document.getElementById("new-notes");
    if (!button) return;
    button.hidden = arrived === 0;
    button.textContent = button.dataset.label.replace("{n}", String(arrived));
  }

  function settleWall(wall, added, replaced) {
    const older = document.getElementById("older");
    for (const card of added) {
      if (!card.classList?.contains("note")) continue;
      if (!matches(wall, card)) { card.remove(); continue; }
      place(wall, card);
      if (replaced.has(card.id)) {
        if (replaced.get(card.id)) card.classList.add("incoming");
      } else if (reading(wall)) {
        card.classList.add("incoming");
        arrived += 1;
      }
      // A card that also sits in the paged list below: the live one wins.
      const copy = older?.querySelector(`[id="${card.id}"]`);
      if (copy && copy !== card) copy.remove();
    }
    const limit = Number(wall.dataset.limit || 0);
    while (limit && wall.children.length > limit) {
      const last = wall.lastElementChild;
      if (older && older.children.length) older.prepend(last); else last.remove();
    }
    updateIncoming();
    fitProjector();
  }

  new MutationObserver((records) => {
    const wall = document.getElementById("wall");
    if (!wall) return;
    const added = [], replaced = new Map();
    for (const record of records) {
      if (record.target !== wall) continue;
      record.removedNodes.forEach((n) => n.id && replaced.set(n.id, n.classList?.contains("incoming")));
      record.addedNodes.forEach((n) => added.push(n));
    }
    if (added.length) settleWall(wall, added.filter((n) => n.isConnected), replaced);
  }).observe(document.documentElement, { childList: true, subtree: true });

  // Print and copy buttons: handlers here, not in onclick attributes (the CSP allows no inline script).
  document.addEventListener("click", (evt) => {
    if (evt.target.closest?.("[data-print]")) window.print();
    const copy = evt.target.closest?.("[data-copy]");
    const field = copy && document.getElementById(copy.dataset.copy);
    if (field) {
      field.select();
      navigator.clipboard?.writeText(field.value);
    }
  });

  document.addEventListener("click", (evt) => {
    if (evt.target.closest?.("#new-notes")) {
      showIncoming();
      document.getElementById("wall")?.scrollIntoView({ block: "start" });
    }
  });

  // "Older notes" continues before the oldest unpinned note on screen (set as it is pressed,
  // before htmx reads the field: this listener captures the click first).
  document.addEventListener("click", (evt) => {
    if (!evt.target.closest?.("#older-more button")) return;
    const ids = Array.from(document.querySelectorAll("#wall .note:not(.pinned), #older .note"), noteId);
    const field = document.getElementById("older-before");
    if (field) field.value = String(ids.length ? Math.min(...ids) : 0);
  }, true);

  // The projector shows only whole cards: one the screen would cut at the bottom is hidden.
  function fitProjector() {
    const wall = document.querySelector(".projector #wall");
    if (!wall) return;
    const bottom = wall.getBoundingClientRect().bottom;
    for (const card of wall.children) {
      card.classList.remove("off-screen");
      if (card.getBoundingClientRect().bottom > bottom + 1) card.classList.add("off-screen");
    }
  }
  window.addEventListener("resize", fitProjector);
  document.addEventListener("DOMContentLoaded", fitProjector);

  // --- countdown: from the server's end time, corrected for this device's clock ------------
  const serverOffset = (() => {
    const now = document.querySelector('meta[name="server-now"]')?.content;
    return now ? Date.parse(now) - Date.now() : 0;
  })();

  function tick() {
    const el = document.getElementById("timer");
    if (el && el.dataset.endsAt) {
      const left = Math.round((Date.parse(el.dataset.endsAt) - (Date.now() + serverOffset)) / 1000);
      const abs = Math.abs(left);
      const text = (left < 0 ? "-" : "") + Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0");
      if (el.textContent !== text) el.textContent = text;
      el.dataset.state = left < 0 ? "overtime" : "running";
    }
  }
  setInterval(tick, 250);
  document.addEventListener("DOMContentLoaded", tick);

  // --- client ids: made when a note is typed, so a resend is recognised --------------------
  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  function ensureClientId(form) {
    const field = form.querySelector('input[name="client_id"]');
    if (field && !field.value) field.value = newId();
  }
  document.addEventListener("input", (evt) => {
    const form = evt.target.closest?.("form[data-client-id-form]");
    if (form) ensureClientId(form);
  });
  document.addEventListener("htmx:after:request", (evt) => {
    const form = evt.target.closest?.("form[data-client-id-form]");
    const status = evt.detail.ctx?.response?.status;
    if (form && status && status < 300) {
      form.reset();
      form.querySelector('input[name="client_id"]').value = "";
    }
  });

  // --- offline queue for the participant's compose form -------------------------------------
  const QUEUE_KEY = "labs-queue:" + location.pathname;
  const loadQueue = () => { try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch { return []; } };
  const saveQueue = (q) => localStorage.setItem(QUEUE_KEY, JSON.stringify(q));

  function composeStatus(text) {
    const el = document.getElementById("compose-status");
    if (el) el.textContent = text;
  }

  let flushing = false;
  async function flushQueue() {
    const form = document.querySelector("form[data-offline-queue]");
    if (!form || flushing) return;
    flushing = true;
    try {
      let queue = loadQueue();
      while (queue.length) {
        const item = queue[0];
        let response;
        try {
          response = await fetch(form.action, {
            method: "POST",
            headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() },
            body: new URLSearchParams(item),
            credentials: "same-origin",
          });
        } catch {
          composeStatus(form.dataset.queuedText);
          return; // still offline: try again on the next reconnect or timer
        }
        // Server trouble or too fast: keep the note and try again later. Other answers are final.
        if (response.status >= 500 || response.status === 429) { composeStatus(form.dataset.queuedText); return; }
        queue = loadQueue().filter((q) => q.client_id !== item.client_id);
        saveQueue(queue);
        if (response.ok) composeStatus(form.dataset.sentText);
        else composeStatus((await response.json().catch(() => ({}))).detail || response.statusText);
      }
    } finally {
      flushing = false;
    }
  }

  document.addEventListener("submit", (evt) => {
    const form = evt.target;
    if (!form.matches("form[data-offline-queue]")) return;
    evt.preventDefault();
    ensureClientId(form);
    const data = Object.fromEntries(new FormData(form).entries());
    delete data._csrf_token;
    if (!String(data.body || "").trim()) return;
    // Kept on the device first: whatever happens to the network, the note is not lost.
    saveQueue([...loadQueue(), data]);
    form.reset();
    form.querySelector('input[name="client_id"]').value = "";
    flushQueue();
  });
  window.addEventListener("online", flushQueue);
  setInterval(flushQueue, 5000);
  document.addEventListener("DOMContentLoaded", flushQueue);
})();
