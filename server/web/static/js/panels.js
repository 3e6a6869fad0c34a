// The room's slower panels: today's plan and timers, the chat, and the clocks
// drawn locally from deadlines (nothing broadcasts a tick per second).

import { $, clock, el, hhmm, setText, show } from "./dom.js";

const announced = new Set();   // countdown milestones already spoken

export function renderAgenda(s) {
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
        // a spoken pause between the title and the minutes ("Relapse prevention, 30 min")
        now ? null : el("span", { class: "visually-hidden", text: ", " }),
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

let chatKeys = [];   // the lines already drawn, so new ones are appended, not redrawn

function chatKey(c) { return `${c.at}|${c.by}|${c.to}|${c.text}`; }

function chatLine(s, c) {
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

export function renderChat(s) {
  const log = $("chat-log");
  const keys = s.chat.map(chatKey);
  const prefix = chatKeys.length <= keys.length && chatKeys.every((k, i) => k === keys[i]);
  if (!prefix) { log.replaceChildren(); chatKeys = []; }
  for (let i = chatKeys.length; i < keys.length; i++) log.append(chatLine(s, s.chat[i]));
  const box = $("chat-scroll");
  if (keys.length !== chatKeys.length) box.scrollTop = box.scrollHeight;
  chatKeys = keys;
  const inRoom = s.breakouts === "open" && s.my_room;
  setText($("chat-label"), $("chat-private").checked ? "Message to the facilitators only"
    : inRoom ? `Message to breakout room ${s.my_room}` : "Message to everyone");
}

// --- clocks: drawn locally from deadlines and the server's clock offset ----------

function milestone(key, left, label, announce) {
  // speak at one minute left and at the end, once each, only when crossed while watching
  for (const [at, say] of [[60, `${label}: 1 minute left.`], [0, `${label}: time is up.`]]) {
    const k = `${key}@${at}`;
    if (left <= at && !announced.has(k)) {
      announced.add(k);
      if (left > at - 5) announce(say);
    }
  }
}

export function drawClocks(s, now, announce) {
  const turn = $("turn-clock");
  if (s.speaker && s.turn_ends) {
    const left = s.turn_ends - now;
    setText(turn, `${s.speaker === s.me ? "Your" : "This"} turn: ${clock(left)} left`);
    show(turn, true);
    if (s.speaker === s.me) milestone(`turn-${s.turn_ends}`, left, "Your turn", announce);
  } else show(turn, false);
  if (s.breakouts === "open" && s.breakouts_ends) {
    const left = s.breakouts_ends - now;
    setText($("breakout-clock"), `Back to the main room in ${clock(left)}`);
    milestone(`breakouts-${s.breakouts_ends}`, left, "Breakout rooms", announce);
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
    if (t.state === "running") milestone(`timer-${t.id}-${t.ends_at}`, left, t.label || "Timer", announce);
  }
}

