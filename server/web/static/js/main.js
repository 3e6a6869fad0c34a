// The participant page: stages (agreement, location, waiting room, the room,
// the end) over one websocket link. State comes only from the server; this
// file decides which stage to show and turns clicks into commands. The room's
// cards are drawn by room.js, panels.js and polls.js; the end's words are
// ending.js's; what is said to screen readers and in notices is speech.js's.

import { $, setText, show, spokenDuration } from "./dom.js";
import { Alerts } from "./alerts.js";
import { clearAll, hasLeft, keepCredential, markLeft, takePass } from "./device.js";
import { endWords, finalWords } from "./ending.js";
import { Link } from "./link.js";
import { apply, fromView, nameOf } from "./mirror.js";
import { drawClocks, renderAgenda, renderChat } from "./panels.js";
import { Polls } from "./polls.js";
import { renderBreakout, renderHelp, renderPeople, renderSpeaking } from "./room.js";
import { announce, capital, dismissNotice, notice } from "./speech.js";
import { Survey } from "./survey.js";
import { mountVoice } from "./voice_ui.js";

const STAGES = ["stage-start", "stage-agreement", "stage-location", "stage-waiting", "stage-room", "stage-end"];

let state = null;          // the mirror of this participant's view
let link = null;
let stage = null;
let ending = null;         // {title, message, retry}
let locationSent = false;
let alerts = null;
let pass = null;           // {token, device}: what this page says hello with
let handPending = false;   // a raise or lower of the hand not yet acknowledged
let chatSending = 0;       // messages sent and not yet acknowledged (e.g. while offline)

function showSending() {
  setText($("chat-sending"), chatSending ? `Sending ${chatSending === 1 ? "your message" : `${chatSending} messages`}…` : "");
}

// --- commands ------------------------------------------------------------------

async function send(cmd, okText) {
  if (link.state !== "online") notice("You are offline for now. This will be sent as soon as the connection is back.");
  const r = await link.send(cmd);
  if (!r.ok) notice(r.message ? capital(r.message) + "." : "That did not work. Please try again.");
  else if (okText) notice(okText);
  return r;
}

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
    // the heading names the group; the tab's title does not (a shared device's history keeps titles)
    setText($("title"), state.title || "Group session");
    setText($("agreement-text"), state.agreement || "");
    if (next === "stage-room") renderRoom();
    else if (next === "stage-waiting") renderHelp(state);   // a call for help from the door, and its answer
  }
  goTo(next);
}

function renderEnd() {
  const { title, message } = endWords(state, ending);
  if (state && ["removed", "denied"].includes(state.status) || state && state.phase === "closed") clearAll();
  setText($("end-h"), title);
  setText($("end-msg"), message);
  show($("retry-btn"), !!(ending && ending.retry));
}

// --- the room --------------------------------------------------------------------

let polls = null;
let survey = null;

let voiceCard = null;

function renderRoom() {
  voiceCard?.update();
  renderSpeaking(state, handPending);
  renderBreakout(state);
  polls.render(state);
  survey.render(state);
  renderAgenda(state);
  renderChat(state);
  renderHelp(state);
  renderPeople(state);
  tick();
}

// --- clocks: drawn locally from deadlines and the server's clock offset ----------

function tick() {
  if (!state || stage !== "stage-room" && wantedStage() !== "stage-room") return;
  drawClocks(state, link.now(), announce);
}

// --- wiring --------------------------------------------------------------------

function onWelcome(w) {
  if (!w.resumed && w.state) {
    // the view is the whole picture (the round's broadcasts this person heard and the
    // queue's mode among it, as the server judges them): nothing of the old one carries over
    state = fromView(w.state, w.you);
  }
  render();
}

function onEvent(f) {
  if (!state) return;
  const before = { speaker: state.speaker, status: state.status, my_room: state.my_room };
  apply(state, f);
  const ev = f.ev;
  const inRoom = wantedStage() === "stage-room";
  if (ev.type === "turn_started" && ev.person === state.me) {
    announce(state.go_around ? "It is your turn in the go-around. You can share, or pass." : "You have the floor.", true);
    alerts.raise("turn", state.go_around ? "It is your turn in the go-around" : "It is your turn to speak", "speak-h");
  } else if (ev.type === "turn_started" && before.speaker !== ev.person) {
    // said once per speaker, never "nobody is speaking" between two of them
    announce(`${nameOf(state, ev.person)} is speaking.`);
  }
  if (ev.type === "turn_ended") alerts.drop("turn");
  if (ev.type === "poll_opened" && inRoom) alerts.raise("poll", "A new question for you", "polls-h");
  if (ev.type === "survey_opened" && inRoom) alerts.raise("survey", "A short survey about today's group", "survey-h");
  if (ev.type === "survey_answered" || ev.type === "survey_closed") alerts.drop("survey");
  if (ev.type === "timer_started") announce(`${ev.label || "A timer"} started: ${spokenDuration(ev.seconds)}.`);
  if (ev.type === "breakouts_opened" && state.my_room) {
    announce(`You are now in breakout room ${state.my_room}.`);
    alerts.raise("breakout", `You are now in breakout room ${state.my_room}`, "breakout-h");
  }
  if (ev.type === "breakouts_closed") alerts.drop("breakout");
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
    reconnecting: "Offline. Reconnecting… you will not miss anything",
    "not-open": "Waiting for the session to open…",
  }[kind] || kind;
  setText($("conn-text"), text);
  if (kind === "not-open" && !state) {
    setText($("start-h"), "The session has not started yet");
    setText($("start-msg"), "This page will connect by itself as soon as the facilitator opens the session. Please keep it open.");
  }
  document.body.classList.toggle("offline", kind !== "online");
}

function onError(f) {
  if (f.code === "closed" && /ended/.test(f.message || "")) {
    ending = { title: "The session has ended", message: "Thank you for being here today. You can close this page." };
    clearAll();
    link.stop();
    render();
  }
}

function onFinal(kind, message) {
  const [title, msg] = finalWords(kind, message, !!(pass && pass.device));
  // nothing that opens the group stays behind, except where trying again here makes sense
  if (kind === "left") markLeft();
  else if (kind !== "in-use" && kind !== "replaced" && kind !== "version") clearAll();
  ending = { title, message: msg, retry: kind === "replaced" || kind === "version" || kind === "in-use" };
  setText($("conn-text"), { ended: "Session ended", left: "Left", replaced: "Paused" }[kind] || "Disconnected");
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
    if (handPending) return;
    const up = state.queue.includes(state.me);
    handPending = true;
    renderSpeaking(state, handPending);
    await send({ do: up ? "lower_hand" : "raise_hand" });
    handPending = false;
    renderSpeaking(state, handPending);
  });
  $("done-btn").addEventListener("click", async () => {
    const r = await send({ do: "end_turn" });
    if (r.ok) notice("Thank you. Your turn has ended.");
  });
  $("notice-close").addEventListener("click", dismissNotice);
  $("wait-help-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("wait-help-input").value.trim();
    setText($("wait-help-status"), "Sending…");
    const r = await send({ do: "help_request", text });
    if (r.ok) { $("wait-help-input").value = ""; renderHelp(state); announce("Your request for help was sent to the facilitators."); }
    else setText($("wait-help-status"), "");
  });
  $("pass-btn").addEventListener("click", async () => {
    const r = await send({ do: "pass" });
    if (r.ok) notice("You passed. Thank you.");
  });
  $("chat-private").addEventListener("change", () => renderChat(state));
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    chatSending += 1;
    showSending();
    const r = await send({ do: "chat", text, to: $("chat-private").checked ? "facilitators" : "all" });
    chatSending -= 1;
    showSending();
    if (!r.ok) input.value = text;
  });
  $("help-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("help-input").value.trim();
    setText($("help-status"), "Sending…");
    const r = await send({ do: "help_request", text });
    if (r.ok) { $("help-input").value = ""; renderHelp(state); announce("Your request for help was sent to the facilitators."); }
  });
  $("leave-btn").addEventListener("click", async () => {
    if (!window.confirm("Leave the session now?")) return;
    const r = await send({ do: "leave" });
    if (r.ok) markLeft();
  });
  $("retry-btn").addEventListener("click", () => {
    ending = null;
    render();
    link.restart();
  });
  setInterval(tick, 1000);
}

function boot() {
  document.documentElement.dataset.started = "1";    // the page's code runs (js/loading.js)
  pass = takePass();
  wire();
  alerts = new Alerts();
  if (!pass) {
    ending = hasLeft()
      ? { title: "You have left the session", message: "Take care. To come back, open the join link your facilitator sent you." }
      : { title: "Please use your personal link", message: "This page needs the join link your facilitator sent you. Open that link to join your group." };
    $("conn").dataset.state = "final";
    setText($("conn-text"), "Not connected");
    render();
    return;
  }
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
  const onDevice = (f) => { keepCredential(f.credential); pass = { token: f.credential, device: true }; };
  link = new Link(url, pass.token, { onWelcome, onEvent, onError, onState, onFinal, onDevice });
  polls = new Polls($("polls"), $("polls-card"), (cmd) => send(cmd), announce, () => state);
  polls.onChange = render;
  survey = new Survey($("survey"), $("survey-card"), (cmd) => send(cmd), announce);
  survey.onChange = render;
  // voice proves who it is with the same credential as the session holds now
  voiceCard = mountVoice({ credential: () => pass.token, room: null, view: () => state, announce });
  render();
  link.start();
}

boot();
