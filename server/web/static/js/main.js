// The participant page: stages (agreement, location, waiting room, the room,
// the end) over one websocket link. State comes only from the server; this
// file decides what to show and turns clicks into commands.

import { $, clock, el, hhmm, listNames, ordinal, setText, show, spokenDuration } from "./dom.js";
import { Link } from "./link.js";
import { apply, fromView, nameOf } from "./mirror.js";
import { Polls } from "./polls.js";
import { mountVoice } from "./voice_ui.js";

const STAGES = ["stage-start", "stage-agreement", "stage-location", "stage-waiting", "stage-room", "stage-end"];

let state = null;          // the mirror of this participant's view
let link = null;
let stage = null;
let ending = null;         // {title, message, retry}
let locationSent = false;
const announced = new Set();   // countdown milestones already spoken

// --- the token: from the link's fragment, then out of the address bar --------

function readToken() {
  const m = /(?:^#|&)t=([^&]+)/.exec(location.hash);
  if (m) {
    const token = decodeURIComponent(m[1]);
    try { sessionStorage.setItem("group-token", token); } catch (e) { /* private mode */ }
    history.replaceState(null, "", location.pathname + location.search);
    return token;
  }
  try { return sessionStorage.getItem("group-token"); } catch (e) { return null; }
}

// --- speaking to screen readers ------------------------------------------------

// polite for news, assertive only for what needs the person now (their turn)
function announce(text, urgent = false) {
  const a = $(urgent ? "urgent" : "announcer");
  a.textContent = "";
  setTimeout(() => { a.textContent = text; }, 50);
}

let noticeTimer = null;
function notice(text) {
  const n = $("notice");
  n.textContent = text;
  show(n, true);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show(n, false), 6000);
}

// --- commands ------------------------------------------------------------------

async function send(cmd, okText) {
  const r = await link.send(cmd);
  if (!r.ok) notice(r.message ? capital(r.message) + "." : "That did not work. Please try again.");
  else if (okText) notice(okText);
  return r;
}

function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

// --- stages --------------------------------------------------------------------

function wantedStage() {
  if (ending) return "stage-end";
  if (!state) return "stage-start";
  if (state.phase === "closed") return "stage-end";
  if (state.status === "present") return "stage-room";
  if (["denied", "removed", "left"].includes(state.status)) return "stage-end";
  if (state.agreement && !state.agreed) return "stage-agreement";
  if (!state.checked_in && !locationSent) return "stage-location";
  return "stage-waiting";
}

function goTo(next) {
  if (next === stage) return;
  const first = stage === null;
  stage = next;
  for (const id of STAGES) show($(id), id === next);
  document.body.dataset.stage = next.replace("stage-", "");
  if (next === "stage-end") show($("notice"), false);
  // move focus to the new stage's heading so keyboard and screen reader users land there
  const h = $(next).querySelector("h2");
  if (h && !first) h.focus();
  if (next === "stage-location") $("loc-input").focus();
}

function render() {
  const next = wantedStage();
  if (next === "stage-end") renderEnd();
  if (state) {
    setText($("title"), state.title || "Group session");
    document.title = state.title ? `${state.title} – group session` : "Group session";
    setText($("agreement-text"), state.agreement || "");
    if (next === "stage-room") renderRoom();
  }
  goTo(next);
}

function renderEnd() {
  let title = "The session has ended";
  let message = "Thank you for being here today. You can close this page.";
  if (ending) ({ title, message } = ending);
  else if (state && state.phase === "closed") { /* the session ended: the default words */ }
  else if (state && state.status === "denied") {
    title = "You were not admitted";
    message = "A facilitator did not admit you to this session. If you think this is a mistake, please contact your program.";
  } else if (state && state.status === "removed") {
    title = "You are no longer in this session";
    message = "A facilitator has removed you from this session. Please contact your program if you need support.";
  } else if (state && state.status === "left") {
    title = "You have left the session";
    message = "Take care. You can close this page.";
  }
  setText($("end-h"), title);
  setText($("end-msg"), message);
  show($("retry-btn"), !!(ending && ending.retry));
}

// --- the room --------------------------------------------------------------------

let polls = null;
let chatKeys = [];

let voiceCard = null;

function renderRoom() {
  voiceCard?.update();
  renderSpeaking();
  renderBreakout();
  polls.render(state);
  renderAgenda();
  renderChat();
  renderHelp();
  renderPeople();
  tick();
}

function renderSpeaking() {
  const s = state;
  const me = s.me;
  let text;
  if (s.speaker === me) text = s.go_around ? "It is your turn in the go-around." : "You have the floor.";
  else if (s.speaker) text = `${nameOf(s, s.speaker)} is speaking.`;
  else text = s.go_around ? "Go-around: waiting for the next person." : "Nobody is speaking right now.";
  setText($("speaker"), text);
  const hand = $("hand-btn");
  const up = s.queue.includes(me);
  setText(hand, up ? "Lower my hand" : "Raise my hand");
  hand.setAttribute("aria-pressed", up ? "true" : "false");
  hand.disabled = s.speaker === me;
  show($("pass-btn"), !!(s.go_around !== null && s.go_around !== undefined && s.speaker === me));
  const pos = s.queue.indexOf(me);
  let place = "";
  if (pos === 0) place = "Your hand is up. You are next.";
  else if (pos > 0) place = `Your hand is up. You are ${ordinal(pos + 1)} in line.`;
  if (pos >= 0 && s.queue_mode === "fair") place += " (Order may shift so everyone gets a turn.)";
  setText($("queue-place"), place);
  setText($("queue-count"), String(s.queue.length));
  const list = $("queue-list");
  const sig = s.queue.map((id) => nameOf(s, id)).join("\n");
  if (list.dataset.sig !== sig) {
    list.dataset.sig = sig;
    list.replaceChildren(...s.queue.map((id) => el("li", { text: nameOf(s, id), class: id === me ? "me" : null })));
  }
}

function renderBreakout() {
  const s = state;
  const open = s.breakouts === "open" && s.my_room;
  show($("breakout"), !!open);
  document.body.classList.toggle("in-breakout", !!open);
  if (!open) return;
  setText($("breakout-h"), `Breakout room ${s.my_room}`);
  const others = s.room_members.filter((id) => id !== s.me).map((id) => nameOf(s, id));
  setText($("breakout-who"), others.length ? `You are with ${listNames(others)}.` : "You are in this room on your own for now.");
  const list = $("broadcasts");
  const sig = s.broadcasts.map((b) => b.seq).join(",");
  if (list.dataset.sig !== sig) {
    list.dataset.sig = sig;
    list.replaceChildren(...s.broadcasts.map((b) => el("li", {}, el("strong", { text: "From the facilitators: " }), b.text)));
  }
}

function renderAgenda() {
  const s = state;
  const timers = Object.values(s.timers || {}).filter((t) => t.state !== "cancelled");
  show($("agenda-card"), s.agenda.length > 0 || timers.length > 0);
  const ol = $("agenda");
  const sig = JSON.stringify([s.agenda, s.agenda_index]);
  if (ol.dataset.sig !== sig) {
    ol.dataset.sig = sig;
    ol.replaceChildren(...s.agenda.map((a, i) => {
      const now = i === s.agenda_index;
      return el("li", { class: now ? "now" : i < (s.agenda_index ?? -1) ? "done" : null, "aria-current": now ? "step" : null },
        el("span", { class: "agenda-title", text: a.title }),
        el("span", { class: "agenda-min", text: now ? "" : `${Math.round(a.minutes)} min` }),
        now ? el("span", { class: "clock agenda-left", role: "timer", "data-agenda": "1" }) : null);
    }));
  }
  const ul = $("timers");
  const tsig = JSON.stringify(timers.map((t) => [t.id, t.label, t.state]));
  if (ul.dataset.sig !== tsig) {
    ul.dataset.sig = tsig;
    ul.replaceChildren(...timers.map((t) => el("li", { class: `timer ${t.state}`, "data-timer": t.id },
      el("span", { class: "timer-label", text: t.label || "Timer" }),
      el("span", { class: "clock", role: "timer", "aria-label": `${t.label || "Timer"} time left` }),
      el("span", { class: "timer-state", text: t.state === "paused" ? "paused" : t.state === "expired" ? "time is up" : "" }))));
  }
}

function chatKey(c) { return `${c.at}|${c.by}|${c.to}|${c.text}`; }

function chatLine(c) {
  const s = state;
  const mine = c.by === s.me;
  let tag = null;
  if (c.to === "facilitators") tag = "to the facilitators only";
  else if (c.to === s.me) tag = "private, from a facilitator";
  else if (c.room) tag = `breakout room ${c.room}`;
  return el("li", { class: `chat-line${mine ? " mine" : ""}${tag ? " private" : ""}` },
    el("span", { class: "chat-meta" },
      el("span", { class: "chat-name", text: mine ? "You" : c.name || "Someone" }),
      el("time", { text: hhmm(c.at) }),
      tag ? el("span", { class: "chat-tag", text: tag }) : null),
    el("span", { class: "chat-text", text: c.text }));
}

function renderChat() {
  const s = state;
  const log = $("chat-log");
  const keys = s.chat.map(chatKey);
  const prefix = chatKeys.length <= keys.length && chatKeys.every((k, i) => k === keys[i]);
  if (!prefix) { log.replaceChildren(); chatKeys = []; }
  for (let i = chatKeys.length; i < keys.length; i++) log.append(chatLine(s.chat[i]));
  if (keys.length !== chatKeys.length) log.scrollTop = log.scrollHeight;
  chatKeys = keys;
  const inRoom = s.breakouts === "open" && s.my_room;
  setText($("chat-label"), $("chat-private").checked ? "Message to the facilitators only"
    : inRoom ? `Message to breakout room ${s.my_room}` : "Message to everyone");
}

function renderHelp() {
  const h = state.my_help[state.my_help.length - 1];
  let text = "";
  if (h && h.acknowledged_by) text = "A facilitator has seen your request and will be with you.";
  else if (h) text = "Your request was sent privately. A facilitator will reach out to you soon.";
  setText($("help-status"), text);
}

function renderPeople() {
  const s = state;
  const ul = $("people");
  const people = [...s.present].sort((a, b) => (a.role === "participant") - (b.role === "participant"));
  const sig = JSON.stringify(people.map((p) => [p.id, p.name, p.role]));
  if (ul.dataset.sig === sig) return;
  ul.dataset.sig = sig;
  ul.replaceChildren(...people.map((p) => el("li", {},
    p.id === s.me ? `${p.name} (you)` : p.name,
    p.role !== "participant" ? el("span", { class: "role", text: ` ${p.role === "observer" ? "observer" : "facilitator"}` }) : null)));
}

// --- clocks: drawn locally from deadlines and the server's clock offset ----------

function milestone(key, left, label) {
  // speak at one minute left and at the end, once each, only when crossed while watching
  for (const [at, say] of [[60, `${label}: 1 minute left.`], [0, `${label}: time is up.`]]) {
    const k = `${key}@${at}`;
    if (left <= at && !announced.has(k)) {
      announced.add(k);
      if (left > at - 5) announce(say);
    }
  }
}

function tick() {
  if (!state || stage !== "stage-room" && wantedStage() !== "stage-room") return;
  const now = link.now();
  const s = state;
  const turn = $("turn-clock");
  if (s.speaker && s.turn_ends) {
    const left = s.turn_ends - now;
    setText(turn, `${s.speaker === s.me ? "Your" : "This"} turn: ${clock(left)} left`);
    show(turn, true);
    if (s.speaker === s.me) milestone(`turn-${s.turn_ends}`, left, "Your turn");
  } else show(turn, false);
  if (s.breakouts === "open" && s.breakouts_ends) {
    const left = s.breakouts_ends - now;
    setText($("breakout-clock"), `Back to the main room in ${clock(left)}`);
    milestone(`breakouts-${s.breakouts_ends}`, left, "Breakout rooms");
  }
  const cur = s.agenda_index !== null && s.agenda_index !== undefined ? s.agenda[s.agenda_index] : null;
  const agendaLeft = document.querySelector("[data-agenda]");
  if (cur && agendaLeft && s.agenda_started) {
    const left = s.agenda_started + cur.minutes * 60 - now;
    setText(agendaLeft, left > 0 ? `${clock(left)} left` : "running over");
  }
  for (const t of Object.values(s.timers || {})) {
    const li = document.querySelector(`[data-timer="${CSS.escape(t.id)}"] .clock`);
    if (!li) continue;
    const left = Math.min(t.seconds, t.state === "running" && t.ends_at ? t.ends_at - now : t.remaining);
    setText(li, clock(left));
    if (t.state === "running") milestone(`timer-${t.id}-${t.ends_at}`, left, t.label || "Timer");
  }
}

// --- wiring --------------------------------------------------------------------

function onWelcome(w) {
  if (!w.resumed && w.state) {
    const old = state;
    state = fromView(w.state, w.you);
    if (old) {
      // what only this page knew survives a fresh picture of the room
      if (old.breakouts === "open" && state.breakouts === "open") state.broadcasts = old.broadcasts;
      state.queue_mode = old.queue_mode;
    }
  }
  window.__group.welcomes += 1;
  window.__group.log.push({ seq: w.seq, resumed: w.resumed, fresh: !!w.state });
  render();
}

function onEvent(f) {
  if (!state) return;
  const before = { speaker: state.speaker, status: state.status, my_room: state.my_room };
  apply(state, f);
  window.__group.events.push(f.seq);
  const ev = f.ev;
  if (ev.type === "turn_started" && ev.person === state.me) announce(state.go_around ? "It is your turn in the go-around. You can share, or pass." : "You have the floor.", true);
  if (ev.type === "breakouts_opened" && state.my_room) announce(`You are now in breakout room ${state.my_room}.`);
  if (ev.type === "breakouts_closed" && before.my_room) announce("Breakout rooms are closed. You are back in the main room.");
  if (ev.type === "breakouts_broadcast" && state.my_room) announce(`Message from the facilitators: ${ev.text}`);
  if (ev.type === "poll_shared") announce("Results were shared.");
  render();
}

function onState(kind, refusal) {
  const c = $("conn");
  c.dataset.state = kind;
  const text = {
    connecting: "Connecting…",
    online: "Connected",
    reconnecting: "Reconnecting… you will not miss anything",
    "not-open": "Waiting for the session to open…",
  }[kind] || kind;
  setText(c, text);
  if (kind === "not-open" && !state) {
    setText($("start-h"), "The session has not started yet");
    setText($("start-msg"), "This page will connect by itself as soon as the facilitator opens the session. Please keep it open.");
  }
  document.body.classList.toggle("offline", kind !== "online");
}

function onError(f) {
  if (f.code === "closed" && /ended/.test(f.message || "")) {
    ending = { title: "The session has ended", message: "Thank you for being here today. You can close this page." };
    link.stop();
    render();
  }
}

function onFinal(kind, message) {
  const texts = {
    ended: ["The session has ended", "Thank you for being here today. You can close this page."],
    left: ["You have left the session", "Take care. You can close this page."],
    removed: ["You are no longer in this session", "A facilitator has removed you from this session. Please contact your program if you need support."],
    denied: ["You were not admitted", "A facilitator did not admit you to this session. If you think this is a mistake, please contact your program."],
    unauthorized: ["This link cannot be used", "The link is not valid or has expired. Please ask your facilitator for a new one."],
    forbidden: ["You cannot join this session", message ? capital(message) + "." : "Please contact your program."],
    version: ["Please reload this page", "The session server was updated. Reloading the page will fix this."],
    replaced: ["This session is open somewhere else", "You joined from another window or device, so this page stopped. You can continue here instead."],
  };
  const [title, msg] = texts[kind] || ["Disconnected", message || ""];
  ending = { title, message: msg, retry: kind === "replaced" || kind === "version" };
  setText($("conn"), { ended: "Session ended", left: "Left", replaced: "Paused" }[kind] || "Disconnected");
  $("conn").dataset.state = "final";
  render();
}

function wire() {
  $("agree-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("agree-box").checked) { $("agree-box").focus(); return; }
    const r = await send({ do: "accept_agreement" });
    if (r.ok) { state.agreed = true; render(); }
  });
  $("loc-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const loc = $("loc-input").value.trim();
    if (!loc) { $("loc-input").focus(); return; }
    const r = await send({ do: "check_in", location: loc });
    if (r.ok) { locationSent = true; state.checked_in = true; $("loc-input").value = ""; render(); }
  });
  $("hand-btn").addEventListener("click", async () => {
    const up = state.queue.includes(state.me);
    await send({ do: up ? "lower_hand" : "raise_hand" });
  });
  $("pass-btn").addEventListener("click", async () => {
    const r = await send({ do: "pass" });
    if (r.ok) notice("You passed. Thank you.");
  });
  $("chat-private").addEventListener("change", () => renderChat());
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const r = await send({ do: "chat", text, to: $("chat-private").checked ? "facilitators" : "all" });
    if (!r.ok) input.value = text;
  });
  $("help-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("help-input").value.trim();
    setText($("help-status"), "Sending…");
    const r = await send({ do: "help_request", text });
    if (r.ok) { $("help-input").value = ""; renderHelp(); announce("Your request for help was sent to the facilitators."); }
  });
  $("leave-btn").addEventListener("click", async () => {
    if (!window.confirm("Leave the session now?")) return;
    await send({ do: "leave" });
  });
  $("retry-btn").addEventListener("click", () => {
    ending = null;
    render();
    link.restart();
  });
  setInterval(tick, 1000);
}

// `window.__group` lets the browser tests read what the page holds; it exposes
// nothing this participant cannot already see on the page.
function boot() {
  window.__group = { state: () => state, lastSeq: () => link && link.lastSeq, offset: () => link && link.offset, events: [], welcomes: 0, log: [] };
  const token = readToken();
  wire();
  if (!token) {
    ending = { title: "Please use your personal link", message: "This page needs the join link your facilitator sent you. Open that link to join your group." };
    render();
    return;
  }
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
  link = new Link(url, token, { onWelcome, onEvent, onError, onState, onFinal });
  polls = new Polls($("polls"), $("polls-card"), (cmd) => send(cmd), announce, () => state);
  polls.onChange = render;
  voiceCard = mountVoice({ credential: () => token, room: null, view: () => state, announce });
  render();
  link.start();
}

boot();
