// The operator's dashboard (/admin/). It reads /api/status every few seconds, the schedule
// and the listener history now and then, and now playing and the headlines as they change
// (/api/events). It acts only through the admin API, same-origin, with the credentials the
// browser already holds for this page. Data is set as text (textContent), never as markup.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const liveMount = document.body.dataset.liveMount;
  const KINDS = { jingle: "jingle", event: "event", bulletin: "news bulletin", song: "song", live: "live" };
  let doc = null; // the latest now-playing document
  let received = 0;

  const text = (el, value) => { if (el.textContent !== value) el.textContent = value; };
  const el = (tag, cls, value) => { const e = document.createElement(tag); if (cls) e.className = cls; if (value !== undefined) e.textContent = value; return e; };
  const mmss = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");
  // Times in the station's time zone, as the schedule beside them (the browser's may be another).
  let clockFormat;
  try {
    clockFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: document.body.dataset.tz || undefined });
  } catch (e) {
    clockFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
  const hhmm = (t) => clockFormat.format(new Date(t * 1000));
  const svg = (tag, attrs) => { const e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };

  function say(message, bad) {
    const p = $("action-status");
    p.hidden = false;
    p.classList.toggle("bad", !!bad);
    text(p, message);
  }

  async function call(method, url, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    // (against the origin: a page opened as http://user:pass@host/admin/ makes every relative
    // URL carry the login, which fetch refuses; the browser keeps the login for the station)
    const response = await fetch(new URL(url, location.origin), options);
    const answer = await response.text();
    if (!response.ok) throw new Error(answer.replace(/<[^>]*>/g, " ").trim() || response.status + " " + response.statusText);
    return answer;
  }

  async function act(button, doing, work) {
    button.disabled = true;
    try { say(await work()); } catch (err) { say(doing + " failed: " + err.message, true); } finally { button.disabled = false; }
  }

  // --- now playing and headlines (from /api/events) ------------------------------------------
  function nowPlaying(np) {
    doc = np;
    received = performance.now();
    const now = np.now_playing || {};
    text($("np-title"), now.title || "Nothing on air yet");
    text($("np-detail"), now.kind ? [KINDS[now.kind] || now.kind, now.playlist && "playlist " + now.playlist, now.block && "block " + now.block].filter(Boolean).join(" · ") : "");
    const parts = np.playing_next ? [np.playing_next.title + " (playlist " + np.playing_next.playlist + ")"] : [];
    if (np.next) parts.push(np.next.name + " at " + np.next.at.slice(11, 16) + " (" + np.next.start + ")");
    text($("next"), parts.join(" · ") || "the schedule plays on");
    $("live").hidden = !np.live;
    $("bulletin").hidden = !np.bulletin;
    $("skip").disabled = !!np.live;
    headlines(np.headlines);
    tick();
  }

  let shownHeadlines = "";
  function headlines(list) {
    const key = JSON.stringify(list.map((h) => [h.id, h.title, h.source, h.origin]));
    if (key === shownHeadlines) return; // unchanged: keep the buttons (and the keyboard focus) where they are
    shownHeadlines = key;
    $("headlines").replaceChildren(...list.map((h) => {
      const li = el("li");
      li.append(el("span", "headline", h.title));
      if (h.source) li.append(" ", el("span", "source", h.source));
      li.append(" ", el("span", "quiet", "(" + h.origin + ")"));
      const retract = el("button", "", "Retract");
      retract.type = "button";
      retract.setAttribute("aria-label", "Retract: " + h.title);
      retract.addEventListener("click", () => act(retract, "Retracting", async () => {
        await call("DELETE", "/api/news/" + encodeURIComponent(h.id));
        return "Retracted: " + h.title;
      }));
      li.append(retract);
      return li;
    }));
    if (!list.length) $("headlines").append(el("li", "quiet", "No headlines."));
  }

  function tick() {
    const now = doc && doc.now_playing;
    if (!now) return;
    const elapsed = now.elapsed + (performance.now() - received) / 1000;
    $("np-progress").hidden = !now.duration;
    if (now.duration) { $("np-progress").max = now.duration; $("np-progress").value = Math.min(elapsed, now.duration); }
    text($("np-time"), now.duration ? mmss(Math.min(elapsed, now.duration)) + " / " + mmss(now.duration) : mmss(elapsed));
  }

  function connect() {
    const events = new EventSource(new URL("/api/events", location.origin));
    events.addEventListener("nowplaying", (ev) => nowPlaying(JSON.parse(ev.data)));
    events.addEventListener("news", (ev) => headlines(JSON.parse(ev.data).headlines));
    events.addEventListener("error", () => { if (events.readyState === EventSource.CLOSED) setTimeout(connect, 5000); });
  }

  // --- the status: mounts, listeners, the DJ, problems, the library ---------------------------
  async function refresh() {
    let s;
    try { s = JSON.parse(await call("GET", "/api/status")); } catch (err) { say("The station does not answer: " + err.message, true); return; }
    text($("uptime"), "up " + Math.floor(s.uptime / 3600) + " h " + Math.floor((s.uptime % 3600) / 60) + " min · version " + s.version);
    text($("listeners-now"), String(s.listeners));
    verdict(s.health || {});
    mounts(s.mounts);
    dj(s.live || {});
    problems(s);
    library(s.library);
  }

  // /healthz's verdict, at the top: what a load balancer sees, said in words
  function verdict(h) {
    const wrong = [];
    if ((h.off_air || []).length) wrong.push("off air: " + h.off_air.join(", "));
    for (const task of h.failed_tasks || []) wrong.push("failed: " + task);
    if (h.silence) wrong.push("silence: " + h.silence);
    text($("verdict"), h.ok ? "On air: every mount and HLS variant has audio." : "Not on air (/healthz answers 503). " + wrong.join(" · "));
    $("verdict").className = "card verdict " + (h.ok ? "ok" : "bad");
  }

  function mounts(list) {
    $("mounts").replaceChildren(...list.map((m) => {
      const tr = el("tr");
      const format = m.format + (m.bitrate ? ", " + m.bitrate + " kbit/s" : "");
      const onAir = el("td", m.on_air ? "ok" : "bad", m.on_air ? "yes" : m.source === "disconnected" ? "no source" : "no");
      tr.append(el("th", "", m.mount), el("td", "", format), el("td", "", String(m.listeners)), el("td", "", String(m.listener_peak)),
        el("td", "", String(m.evicted)), onAir, el("td", "", m.title || ""));
      tr.firstChild.scope = "row";
      return tr;
    }));
  }

  function dj(live) {
    const who = live.connected ? (live.name || "A DJ") + " from " + live.connected + (live.on_air ? ", on air" : ", not on air yet") : "No DJ connected.";
    text($("dj"), who);
    $("kick").hidden = !live.connected && !live.on_air;
  }

  function problems(s) {
    const lines = [];
    const listed = new Set();
    for (const p of s.problems || []) { // a file the library found unplayable has no time: it has not failed on air
      listed.add(p.file);
      lines.push((typeof p.time === "number" ? hhmm(p.time) : p.what || "library") + "  " + p.file + ": " + p.reason);
    }
    // What the station keeps and tells: its databases, its access log, its webhooks
    const stores = [["history database", s.history && s.history.database], ["access log", s.history && s.history.access_log],
      ["library database", s.library && s.library.database]];
    for (const [what, st] of stores) {
      if (st && !st.ok && !listed.has(st.file)) lines.push(what + " " + st.file + ": " + (st.error || "not working") + (st.queued ? " (" + st.queued + " waiting to be written)" : ""));
      if (st && st.moved_aside) lines.push(what + " " + st.file + ": " + st.moved_aside);
    }
    for (const h of s.webhooks || []) if (h.error) lines.push("webhook " + h.url + ": " + h.error + (h.queued ? " (" + h.queued + " events waiting)" : ""));
    const reload = (s.schedule && s.schedule.reload) || {};
    for (const e of reload.errors || []) lines.push("schedule: " + e);
    for (const w of (s.schedule && s.schedule.warnings) || []) lines.push("schedule warning: " + w);
    for (const [where, error] of Object.entries((s.news && s.news.errors) || {})) lines.push("news " + where + ": " + error);
    for (const t of s.tasks || []) if (t.last_error) lines.push("task " + t.name + (t.running ? " (restarted " + t.restarts + "×)" : " (down)") + ": " + t.last_error);
    const lib = s.library && s.library.problems;
    for (const p of Array.isArray(lib) ? lib : []) {
      if (typeof p !== "string" && listed.has(p.file)) continue; // listed above already
      lines.push("library " + (typeof p === "string" ? p : (p.file || "") + ": " + (p.reason || JSON.stringify(p))));
    }
    $("problems").replaceChildren(...(lines.length ? lines.map((l) => el("li", "", l)) : [el("li", "quiet", "No problems.")]));
  }

  // The library's scan (where the station has a library): how far it is, and its figures in words.
  const LIBRARY_LABELS = {
    files: "Files in the programme", analysed: "Analysed", pending: "Waiting for analysis",
    problem_count: "Files with problems", rows: "Files the library knows",
  };
  function library(lib) {
    $("library").hidden = !lib;
    if (!lib) return;
    const done = lib.analysed, total = lib.files;
    $("library-progress").hidden = !(typeof done === "number" && typeof total === "number" && total > 0);
    if (!$("library-progress").hidden) { $("library-progress").max = total; $("library-progress").value = done; }
    const rows = [];
    for (const [k, label] of Object.entries(LIBRARY_LABELS)) if (typeof lib[k] === "number") rows.push(el("dt", "", label), el("dd", "", String(lib[k])));
    $("library-detail").replaceChildren(...rows);
  }

  // --- the graph and the schedule -------------------------------------------------------------
  // Listeners over the last 24 hours, or since the history begins when that is shorter (a
  // station just started): the server picks the step (at most 2,000 points).
  async function graph() {
    let h;
    try { h = JSON.parse(await call("GET", "/api/listeners/history?hours=24")); } catch (err) { text($("graph-note"), "No history: " + err.message); return; }
    const pts = h.points;
    const W = 400, H = 150, left = 30, bottom = 18;
    const now = Date.now() / 1000;
    const from = Math.max(now - 86400, Math.min(pts.length ? pts[0][0] : now, now - 600));
    const peak = Math.max(0, ...pts.map((p) => p[1]));
    const top = Math.max(1, peak);
    const x = (t) => left + ((t - from) / (now - from)) * (W - left - 6);
    const y = (n) => H - bottom - (n / top) * (H - bottom - 8);
    const g = $("graph");
    [...g.querySelectorAll(":scope > :not(title)")].forEach((n) => n.remove());
    g.append(svg("line", { class: "axis", x1: left, y1: H - bottom, x2: W, y2: H - bottom }), svg("line", { class: "axis", x1: left, y1: 4, x2: left, y2: H - bottom }));
    const label = (tx, ty, value, anchor) => { const t = svg("text", { x: tx, y: ty, "text-anchor": anchor }); t.textContent = value; g.append(t); };
    label(left - 4, y(top) + 4, String(top), "end");
    label(left - 4, H - bottom + 4, "0", "end");
    label(x(from), H - 4, hhmm(from), "start");
    label(x((from + now) / 2), H - 4, hhmm((from + now) / 2), "middle");
    label(x(now), H - 4, "now", "end");
    if (pts.length) {
      const line = pts.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1)).join(" ") + " L" + x(now).toFixed(1) + " " + y(pts[pts.length - 1][1]).toFixed(1);
      g.append(svg("path", { class: "area", d: line + " L" + x(now).toFixed(1) + " " + (H - bottom) + " L" + x(pts[0][0]).toFixed(1) + " " + (H - bottom) + " Z" }));
      g.append(svg("path", { class: "line", d: line }));
    }
    text($("listeners-peak"), "peak " + peak + " in the last 24 h");
    const kept = h.source === "memory" ? "kept in memory since the station started"
      : h.restored_until ? "by the minute from the history database until the start at " + hhmm(h.restored_until) + ", then kept in memory"
      : "from " + h.source;
    text($("graph-note"), "Peak " + peak + (pts.length ? " since " + hhmm(pts[0][0]) : "") + " (" + kept + "; one point per " + Math.round(h.step) + " s).");
    $("graph-label").textContent = "Listeners since " + hhmm(from) + ": peak " + peak + ", now " + (pts.length ? pts[pts.length - 1][1] : 0);
  }

  async function schedule() {
    try { text($("timeline"), JSON.parse(await call("GET", "/api/schedule?hours=24")).lines.join("\n")); } catch (err) { text($("timeline"), "No schedule: " + err.message); }
  }

  // --- actions ------------------------------------------------------------------------------------
  $("skip").addEventListener("click", () => act($("skip"), "Skip", async () => {
    const r = JSON.parse(await call("POST", "/api/skip"));
    return "Skipping " + (r.title || "what plays") + ": the next track follows in a moment.";
  }));
  $("bulletin-start").addEventListener("click", () => act($("bulletin-start"), "The bulletin", async () => {
    const r = JSON.parse(await call("POST", "/api/bulletin"));
    return "Bulletin starting (" + r.headlines + " headlines, " + (r.method || "no bulletin method") + ").";
  }));
  $("kick").addEventListener("click", () => act($("kick"), "Kicking the DJ", async () => {
    await call("GET", "/admin/killsource?mount=" + encodeURIComponent(liveMount));
    setTimeout(refresh, 500);
    return "The DJ was disconnected; the schedule resumes.";
  }));
  $("news-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target, data = new FormData(form);
    act(form.querySelector("button"), "Posting", async () => {
      const item = { title: data.get("title"), summary: data.get("summary"), source: data.get("source"), expires: Number(data.get("expires")) };
      const posted = JSON.parse(await call("POST", "/api/news", item));
      form.reset();
      return "Posted: " + posted.title;
    });
  });

  connect();
  refresh();
  graph();
  schedule();
  setInterval(refresh, 5000);
  setInterval(graph, 60000);
  setInterval(schedule, 600000);
  setInterval(tick, 1000);
})();
