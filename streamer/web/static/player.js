// The station's public page and /embed. The server renders them whole (they work without
// this script); this script adds a play/stop button with volume that plays the stream the
// browser can play, and keeps now playing, the headlines, the live badge, the recent tracks
// and the schedule's current block up to date from /api/events (Server-Sent Events).
// Everything that comes from the server is set as text (textContent), never as markup.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const station = body.dataset.station || document.title;
  const wanted = new URLSearchParams(location.search).get("mount");
  const HLS = ["application/vnd.apple.mpegurl", "application/x-mpegurl"];
  const KINDS = { jingle: "Jingle", event: "Event", bulletin: "News bulletin" };
  const STALL = 10000; // ms without audio before the player says none is arriving
  const tester = document.createElement("audio");
  let clockFormat;
  try {
    clockFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: body.dataset.tz || undefined });
  } catch (e) {
    clockFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  let doc = null; // the latest now-playing document
  let received = 0; // when it arrived (performance.now())
  let stream = null; // the mount the player plays: an entry of doc.mounts
  let playing = false;
  let stallTimer = 0;
  let audio = $("audio");
  // Where this page may load streams from (its Content-Security-Policy): the origin of the
  // stream the server rendered, from the address the page was asked for. Documents pushed later
  // are shared by every page and name the station's own address, which may be another name
  // for it (127.0.0.1 for a page opened as localhost): their streams are played from here.
  let home = location.origin;
  const here = (url) => { try { const u = new URL(url, location.href); return home + u.pathname + u.search; } catch (e) { return url; } };
  // A stream lost while playing (a restart, a source gone) is taken up again when one is there.
  const RESUME = 3000; // ms between attempts
  let resume = false, resumedAt = 0;

  const text = (el, value) => { if (el && el.textContent !== value) el.textContent = value; };
  const show = (el, on) => { if (el) el.hidden = !on; };
  const mmss = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");
  const clock = (iso) => { const d = new Date(iso); return isNaN(d) ? "" : clockFormat.format(d); };
  const el = (tag, cls, value) => { const e = document.createElement(tag); if (cls) e.className = cls; if (value !== undefined) e.textContent = value; return e; };

  // --- which stream -------------------------------------------------------------------------
  // The mount asked for (?mount=), else HLS where the browser plays it natively (the
  // document's HLS playlist, or an HLS mount), else the first listed mount whose format the
  // browser can play, else the MP3 one.
  function choose(mounts, hls) {
    if (wanted) return mounts.find((m) => m.mount === wanted) || null;
    const can = (m) => tester.canPlayType((m.format || "").toLowerCase());
    const isHls = (m) => HLS.includes((m.format || "").toLowerCase());
    const playlist = hls && hls.url ? [{ mount: "HLS", listen_url: hls.url, format: HLS[0] }] : [];
    return [...playlist, ...mounts].find((m) => isHls(m) && can(m)) || mounts.find((m) => !isHls(m) && can(m) === "probably") ||
      mounts.find((m) => !isHls(m) && can(m)) || mounts.find((m) => m.format === "audio/mpeg") || null;
  }

  function status(message, off) {
    text($("player-status"), message);
    $("player-status").classList.toggle("off-air", !!off);
  }

  function noSource() {
    return wanted ? "No source on " + wanted + " right now: nothing to play." : "Nothing is on air right now.";
  }

  // A new list of mounts: keep playing the one that plays while it is there; otherwise pick.
  function follow(mounts, hls) {
    let gone = false;
    if (playing) {
      const same = mounts.find((m) => m.mount === stream.mount) || (stream.mount === "HLS" && hls && hls.url && stream);
      if (same) { stream = same; return; }
      stop("The source on " + stream.mount + " went away.", true, true);
      gone = true;
    }
    stream = choose(mounts, hls);
    $("play").disabled = !stream;
    if (!stream && !gone) status(noSource(), true);
    else if (stream && $("player-status").classList.contains("off-air") && !resume) status("");
  }

  // Play before the first snapshot: the snapshot picks the stream (HLS where the browser plays
  // it), the server-rendered one only if it is late (QA: a quick click kept /main for good).
  let snapshotWait = 0; // the timer of a Play that waits for the first snapshot
  function startWhenKnown() {
    status("Connecting…");
    clearTimeout(snapshotWait);
    // (3 s: a loaded machine took over 1.5 s to send the first snapshot, and the page played /main)
    snapshotWait = setTimeout(() => { snapshotWait = 0; start(); }, 3000);
  }

  function takeUp() {
    if (resume && !playing && stream && Date.now() - resumedAt > RESUME) start();
  }

  // --- the player ---------------------------------------------------------------------------
  function start() {
    if (!stream) { status(noSource(), true); return; }
    playing = true;
    offset = Infinity; lastEnd = 0; connectedAt = Date.now() / 1000; mediaStart = null; // a new media clock
    resumedAt = Date.now();
    audio.src = here(stream.listen_url);
    audio.volume = $("volume").value / 100;
    status("Connecting to " + stream.mount + "…");
    armStall();
    audio.play().catch((err) => { if (playing && err.name !== "AbortError") stop("Could not play " + stream.mount + ": " + err.message, true); });
    button();
  }

  // `lost`: the stream went away under the listener, who still wants to hear the station.
  function stop(message, off, lost = false) {
    playing = false;
    resume = lost;
    clearTimeout(stallTimer);
    audio.pause();
    audio.removeAttribute("src"); // a live stream: disconnect, and start at the live edge next time
    audio.load();
    showDue(); // nothing heard now: where the station is
    status(message || "", off);
    button();
  }

  function button() {
    text($("play"), playing ? "Stop" : "Play");
    $("play").setAttribute("aria-label", (playing ? "Stop " : "Play ") + station);
  }

  function armStall() {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => { if (playing) lost("No audio is arriving from " + stream.mount); }, STALL);
  }

  // The stream went away under the listener, who still wants to hear the station: why, as far
  // as the page can tell (QA: "it has no source" while the whole station was restarting).
  function lost(what) {
    stop(what + ": it has no source right now.", true, true);
    // (any answer means reachable: the page itself, which answers 200 from the moment the station
    // listens, where /healthz's honest 503 while a restarted station comes on air is a console error)
    fetch(location.pathname, { method: "HEAD", cache: "no-store" }).catch(() => {
      if (!playing && resume) status(what + ": the station cannot be reached. Trying again…", true);
    });
  }

  function setUpPlayer() {
    const initial = audio && audio.getAttribute("src"); // what the server chose: playable before the first event
    if (initial) stream = { mount: body.dataset.mount, listen_url: initial, format: "audio/mpeg" };
    if (initial) home = new URL(initial, location.href).origin;
    $("play").disabled = !stream;
    if (!audio) {
      audio = document.createElement("audio");
      audio.id = "audio";
      $("player-status").before(audio);
    }
    audio.removeAttribute("controls");
    audio.preload = "none";
    audio.addEventListener("playing", () => { clearTimeout(stallTimer); if (playing) status("Playing " + stream.mount); });
    audio.addEventListener("timeupdate", () => { if (playing && !audio.paused) armStall(); });
    audio.addEventListener("progress", segmentArrived);
    // the stream's first bytes are here (its burst came with them): the media clock's origin in wall time
    audio.addEventListener("loadedmetadata", () => { if (playing) connectedAt = Date.now() / 1000; });
    audio.addEventListener("waiting", () => { if (playing) { status("Buffering…"); armStall(); } });
    audio.addEventListener("error", () => { if (playing) lost("Cannot play " + stream.mount); });
    audio.addEventListener("ended", () => { if (playing) lost("The stream " + stream.mount + " ended"); });
    // Paused from outside the page (a media key, a headset button, a phone call): the listener
    // stopped it, so it stays stopped (QA: the stall timer took it up again 10 s later).
    audio.addEventListener("pause", () => { if (playing && !audio.ended && !audio.error) stop("Paused."); });
    if ("mediaSession" in navigator) { // media keys and the phone's notification start and stop the station, at the live edge
      navigator.mediaSession.setActionHandler("play", () => { if (!playing) start(); });
      navigator.mediaSession.setActionHandler("pause", () => { if (playing) stop("Paused."); });
    }
    $("play").addEventListener("click", () => (playing ? stop() : doc ? start() : startWhenKnown()));
    $("volume").addEventListener("input", () => { audio.volume = $("volume").value / 100; });
    show($("controls"), true);
    button();
  }

  // --- what is on air ---------------------------------------------------------------------
  // The song the scheduler plays next, then the next timed event (as render.py's next_up).
  function nextUp(np) {
    const parts = np.playing_next ? [np.playing_next.title] : [];
    if (np.next) parts.push(np.next.name + " at " + np.next.at.slice(11, 16));
    return parts.join(" · ") || "the schedule plays on";
  }

  function render(np, lag = 0) {
    doc = np;
    received = performance.now() - lag * 1000; // `lag`: seconds since the document was current where it is heard
    const now = np.now_playing || {};
    const song = now.song || {};
    text($("np-title"), song.title || now.title || "Nothing on air yet");
    text($("np-artist"), song.artist || KINDS[now.kind] || "");
    document.title = now.title ? now.title + " · " + station : station;
    show($("live"), !!np.live);
    text($("next"), nextUp(np));
    headlines(np.headlines, np.bulletin, now.title || "");
    recent(np.history || []);
    follow(np.mounts || [], np.hls);
    if (snapshotWait) { clearTimeout(snapshotWait); snapshotWait = 0; start(); }
    tick();
  }

  function headlines(list, bulletin, onAir) {
    show($("bulletin"), !!bulletin);
    show($("no-news"), !list.length);
    text($("headline"), list.length ? list[0].title : "");
    const ul = $("headlines");
    if (!ul) return;
    const read = new Set((bulletin && bulletin.headlines) || []);
    ul.replaceChildren(...list.map((h) => {
      const li = el("li");
      li.dataset.id = h.id;
      const reading = !!bulletin && onAir.startsWith("News: " + h.title);
      if (read.has(h.title) || reading) li.className = "in-bulletin";
      if (reading) li.setAttribute("aria-current", "true");
      li.append(el("span", "headline", h.title));
      if (h.source) li.append(" ", el("span", "source", h.source));
      if (h.summary) li.append(el("p", "summary", h.summary));
      return li;
    }));
  }

  function recent(items) {
    const ol = $("history");
    if (!ol) return;
    if (!items.length) return ol.replaceChildren(el("li", "quiet", "Nothing yet: the station has just started."));
    ol.replaceChildren(...items.slice(0, 10).map((p) => {
      const li = el("li");
      const t = el("time", "", clock(p.start));
      t.dateTime = p.start;
      li.append(t, " ", el("span", "title", p.title));
      return li;
    }));
  }

  // The progress of the track and the block on air, between events: counted here, no polling.
  function tick() {
    const now = (doc && doc.now_playing) || null;
    const bar = $("np-progress");
    if (now && bar) {
      const elapsed = now.elapsed + (performance.now() - received) / 1000;
      show(bar, !!now.duration);
      if (now.duration) { bar.max = now.duration; bar.value = Math.min(elapsed, now.duration); }
      text($("np-time"), now.duration ? mmss(Math.min(elapsed, now.duration)) + " / " + mmss(now.duration) : mmss(elapsed));
    }
    const blocks = [...document.querySelectorAll("#blocks li[data-time]")];
    const current = blocks.filter((li) => li.dataset.time * 1000 <= Date.now()).pop();
    blocks.forEach((li) => (li === current ? li.setAttribute("aria-current", "true") : li.removeAttribute("aria-current")));
  }

  // A title change is pushed at its air time, when it reaches Icecast listeners. A player hears
  // it later: after the burst it starts with on an Icecast mount (64 KB: 4 s at 128 kbit/s, 11 s
  // at 48; QA saw titles that far ahead of the song), ~12 s later on HLS. So the page shows the
  // document that was current when what the player plays now aired (and when playback starts,
  // it goes back to it). On HLS the player's media clock is tied to air time by the segments:
  // each arrives some time after its end aired (it is published once complete, then fetched),
  // so the least of (wall clock - buffered end) over the arrivals bounds the media-to-air offset
  // from above, by the player's polling delay: up to a segment (QA: 1.9 s early on 4 s segments).
  // The playlist says when each segment aired (EXT-X-PROGRAM-DATE-TIME; every variant's segment k
  // covers the same air time), so at each arrival the newest segment's air end less the buffered
  // end is another such bound, exact when the player took the newest segment, as it does at the
  // live edge; the least of both is kept.
  const docs = []; // [arrival (wall seconds), document], the last few
  let offset = Infinity, lastEnd = 0, connectedAt = 0, mediaStart = null;
  const isHlsStream = () => !!stream && (stream.mount === "HLS" || HLS.includes((stream.format || "").toLowerCase()));
  function segmentArrived() {
    if (!playing || !isHlsStream() || !audio.buffered.length) return;
    const end = audio.buffered.end(audio.buffered.length - 1);
    if (end > lastEnd + 0.1) {
      offset = Math.min(offset, Date.now() / 1000 - end);
      airedEnd().then((aired) => { if (aired !== null && playing) offset = Math.min(offset, aired - end); });
    }
    lastEnd = Math.max(lastEnd, end);
  }
  async function airedEnd() { // wall time at which the newest listed segment's last sample aired, or null
    const variant = doc && doc.hls && doc.hls.variants && doc.hls.variants[0];
    if (!variant) return null;
    try {
      const lines = (await (await fetch(variant.url, { cache: "no-cache" })).text()).split("\n");
      const at = lines.findLastIndex((l) => l.startsWith("#EXT-X-PROGRAM-DATE-TIME:"));
      const inf = lines.slice(at).find((l) => l.startsWith("#EXTINF:"));
      const start = at < 0 ? NaN : Date.parse(lines[at].slice(25));
      return inf && !isNaN(start) ? start / 1000 + parseFloat(inf.slice(8)) : null;
    } catch (e) {
      return null;
    }
  }
  function heardIn() {
    if (!playing || audio.paused || !audio.buffered.length) return 0;
    const ahead = audio.buffered.end(audio.buffered.length - 1) - audio.currentTime;
    let behind;
    if (!isHlsStream()) { // its first byte aired a burst before the player connected (what it buffers shows only part of it)
      // (an Ogg stream's media clock starts where its chain's first page is, not at 0: QA saw titles 6.8 s early on /opus)
      if (mediaStart === null) mediaStart = audio.buffered.start(0); // once: a long session's played data is let go
      const played = audio.currentTime - mediaStart;
      behind = stream.burst_seconds != null ? Date.now() / 1000 - connectedAt + stream.burst_seconds - played : ahead;
    } else {
      behind = offset !== Infinity ? Date.now() / 1000 - (audio.currentTime + offset)
        : ahead + ((doc && doc.hls && doc.hls.segment) || 4); // no segment arrived yet
    }
    return Math.max(0, Math.min(behind, 60));
  }
  function arrived(np) {
    docs.push([Date.now() / 1000, np]);
    if (docs.length > 30) docs.shift();
    showDue();
  }
  function showDue() {
    const heard = Date.now() / 1000 - heardIn();
    const current = docs.filter(([at]) => at <= heard).pop() || docs[0];
    if (current && current[1] !== doc) render(current[1], Math.max(0, heard - current[0]));
  }

  // --- live updates ---------------------------------------------------------------------------
  // EventSource reconnects by itself after a dropped stream (a restart: the server says to
  // retry after 1 s) and the server answers a new connection with a full snapshot first. A
  // stream that failed outright (an error answer) is retried here, backing off to 30 s.
  let retry = 1000;
  function connect() {
    const events = new EventSource("/api/events");
    events.addEventListener("nowplaying", (ev) => { retry = 1000; arrived(JSON.parse(ev.data)); });
    events.addEventListener("news", (ev) => {
      const data = JSON.parse(ev.data);
      if (doc) doc.headlines = data.headlines;
      headlines(data.headlines, doc && doc.bulletin, (doc && doc.now_playing && doc.now_playing.title) || "");
    });
    events.addEventListener("open", () => {
      // After a drop (a restart) the snapshot is the present: documents from before it would be
      // shown again while the player's clock catches up (QA: the last run's title came back).
      if (body.classList.contains("stale")) docs.length = 0;
      body.classList.remove("stale");
    });
    events.addEventListener("error", () => {
      body.classList.add("stale");
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    });
  }

  setUpPlayer();
  connect();
  setInterval(() => { tick(); takeUp(); }, 1000);
  setInterval(() => { segmentArrived(); showDue(); }, 100);
})();
