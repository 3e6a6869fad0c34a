// The room as a participant sees it: who is speaking and their own place in the
// queue, their breakout room, the answer to their call for help, and who is in
// the room. Each draws from the participant's view alone.

import { $, el, listNames, ordinal, setText, show } from "./dom.js";
import { nameOf } from "./mirror.js";

export function renderSpeaking(s, handPending) {
  const me = s.me;
  let text;
  if (s.speaker === me) text = s.go_around ? "It is your turn in the go-around." : "You have the floor.";
  else if (s.speaker) text = `${nameOf(s, s.speaker)} is speaking.`;
  else text = s.go_around ? "Go-around: waiting for the next person." : "Nobody is speaking right now.";
  setText($("speaker"), text);
  const hand = $("hand-btn");
  const up = s.queue.includes(me);
  setText(hand, handPending ? "Sending…" : up ? "Lower my hand" : "Raise my hand");
  hand.setAttribute("aria-pressed", up ? "true" : "false");
  hand.disabled = s.speaker === me;
  const goAround = s.go_around !== null && s.go_around !== undefined;
  show($("pass-btn"), goAround && s.speaker === me);
  show($("done-btn"), s.speaker === me);
  const pos = s.queue.indexOf(me);
  const inRoom = s.breakouts === "open" && s.my_room;
  let place = "";
  // in a breakout room the main room's queue waits: "next" would mislead
  if (pos >= 0 && inRoom) place = "Your hand stays up in the main room for when the breakout rooms close.";
  else if (pos === 0) place = "Your hand is up. You are next.";
  else if (pos > 0) place = `Your hand is up. You are ${ordinal(pos + 1)} in line.`;
  if (pos >= 0 && !inRoom && s.queue_mode === "fair") place += " (Order may shift so everyone gets a turn.)";
  setText($("queue-place"), place);
  setText($("queue-count"), String(s.queue.length));
  const list = $("queue-list");
  const sig = s.queue.map((id) => nameOf(s, id)).join("\n");
  if (list.dataset.sig !== sig) {
    list.dataset.sig = sig;
    list.replaceChildren(...s.queue.map((id) => el("li", { text: nameOf(s, id), class: id === me ? "me" : null })));
  }
}

export function renderBreakout(s) {
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

export function renderHelp(s) {
  const h = s.my_help[s.my_help.length - 1];
  let text = "";
  if (h && h.acknowledged_by) text = "A facilitator has seen your request and will be with you.";
  else if (h) text = "Your request was sent privately. A facilitator will reach out to you soon.";
  setText($("help-status"), text);
  setText($("wait-help-status"), text);
}

// Who is in the room, as participants read it: an observer watches and is named so (issue 14, item 2).
const ROLE_LABELS = { facilitator: "facilitator", cofacilitator: "co-facilitator", observer: "observer" };

export function renderPeople(s) {
  const ul = $("people");
  const people = [...s.present].sort((a, b) => (a.role === "participant") - (b.role === "participant"));
  const sig = JSON.stringify(people.map((p) => [p.id, p.name, p.role]));
  if (ul.dataset.sig === sig) return;
  ul.dataset.sig = sig;
  ul.replaceChildren(...people.map((p) => el("li", {},
    p.id === s.me ? `${p.name} (you)` : p.name,
    p.role !== "participant" ? el("span", { class: "role", text: ` ${ROLE_LABELS[p.role] || "staff"}` }) : null)));
}
