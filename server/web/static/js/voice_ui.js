// The voice card: one tap to join, your own mute, who is in the call and who is talking.
//
// The camera is off unless the participant turns it on (audio first: less
// bandwidth, more privacy). Nothing is recorded; the card says so.

import { Voice } from "./voice.js";

// The page's call while it is in one. Nothing is put on `window`: whoever needs the
// call imports this module (the browser tests do, from page.evaluate).
let inCall = null;

export function voiceInCall() { return inCall; }

export function mountVoice({ credential, room, view, announce, listen }) {
  const $ = (id) => document.getElementById(id);
  const btn = $("voice-btn"), mute = $("mute-btn"), status = $("voice-state"), list = $("voice-peers");
  const cam = $("camera-box");
  if (!btn) return null;
  let voice = null;
  let joining = false;
  // the participant's own choice: voice comes back by itself after a drop or a server
  // restart, as chat does, for as long as they are in the room; never after they leave it
  let wanted = false;
  let nextTry = 0;
  const talking = new Set();

  const peers = () => {
    list.replaceChildren();
    if (!voice) return;
    for (const p of voice.peers()) {
      const li = document.createElement("li");
      li.textContent = p.display || "Someone";
      if (talking.has(p.id)) {
        li.classList.add("talking");
        const s = document.createElement("span");
        s.className = "visually-hidden";
        s.textContent = " (talking)";
        li.append(s);
      }
      list.append(li);
    }
  };
  const setStatus = (text) => { status.textContent = text; };

  async function join() {
    btn.disabled = true;
    setStatus("Joining voice…");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/media?room=${encodeURIComponent(room || "")}`;
    let mine = null;     // this attempt's Voice, which `voice` may no longer name when it closes
    mine = voice = new Voice(url, {
      onPeers: peers,
      onTalking: (id, on) => { if (on) talking.add(id); else talking.delete(id); peers(); },
      onState: (t) => { setStatus(t); mute.setAttribute("aria-pressed", String(voice?.muted || false)); },
      onClosed: (why) => {
        if (mine.unavailable) return offNow();
        leaveUi(wanted ? "Voice lost its connection; joining again…" : `Voice ended: ${why}`);
        nextTry = Date.now() + 1000 + Math.random() * 1000;
      },
    });
    voice.credential = credential();
    voice.listen = listen ? listen() : null;
    joining = true;
    try {
      await voice.join({ audio: true, video: !!cam?.checked && !voice.listen, publish: !voice.listen });
      inCall = voice;
      btn.textContent = "Leave voice";
      btn.disabled = false;
      btn.dataset.on = "1";
      mute.hidden = false;
      announce?.("You joined the voice call");
    } catch (e) {
      if (mine.unavailable || off) return offNow();
      leaveUi(wanted ? "Voice could not start yet; trying again…" : `Voice could not start: ${e.message || e}`);
      nextTry = Date.now() + 2000 + Math.random() * 1000;
    } finally {
      joining = false;
    }
  }

  // back into voice once the session is: checked on every render and every second
  function retry() {
    const v = view ? view() : null;
    const inRoom = v ? (v.status === "present" && v.phase === "open") : true;   // staff: no view here
    if (wanted && !voice && !joining && inRoom && Date.now() >= nextTry) join();
  }
  setInterval(retry, 1000);

  // This server runs without voice: say so once, and stop offering it (no retries).
  let off = false;
  function offNow() {
    off = true;
    wanted = false;
    leaveUi("Voice is not offered in this session.");
    btn.disabled = true;
    if (cam) cam.disabled = true;
  }

  function leaveUi(text) {
    voice = null;
    inCall = null;
    talking.clear();
    peers();
    btn.textContent = "Join voice";
    btn.disabled = off;
    delete btn.dataset.on;
    mute.hidden = true;
    mute.setAttribute("aria-pressed", "false");
    mute.textContent = "Mute my microphone";
    setStatus(text || "You are not in the voice call.");
  }

  btn.addEventListener("click", async () => {
    if (btn.dataset.on) { wanted = false; const v = voice; leaveUi(); await v?.leave(); } else { wanted = true; await join(); }
  });
  mute.addEventListener("click", () => {
    if (!voice) return;
    voice.setMuted(!voice.muted);
    mute.textContent = voice.muted ? "Unmute my microphone" : "Mute my microphone";
    mute.setAttribute("aria-pressed", String(voice.muted));
  });
  return {
    // the session told us we were muted, or the floor is held: say it where the button is
    update() {
      const v = view();
      if (v && (v.phase === "closed" || ["left", "removed", "denied"].includes(v.status))) wanted = false;
      retry();
      if (!v || !voice) return;
      if (v.muted) setStatus("A facilitator has muted you");
      else if (v.floor_held && v.speaker !== v.me) setStatus("Only the speaker is heard right now");
      else setStatus(voice._stateText());
    },
    leave() { wanted = false; if (voice) { const v = voice; leaveUi(); v.leave(); } },
  };
}
