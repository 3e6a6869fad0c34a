// Being called on, a new question, a move to a breakout room: things a person
// scrolled down in the chat on a phone must not miss. A banner at the top of
// the screen stays until what it points at has been seen (scrolled into view
// for a moment, "Show me", or dismissed); the tab's title says it too; the
// phone vibrates where it allows; a short tone plays only if the person asked.

import { $, setText, show } from "./dom.js";
import { getPref, setPref } from "./device.js";

const TITLE = "Group session";    // neutral: a shared device's history never names the group
const SEEN_AFTER = 1200;          // ms the target must stay in view to count as seen
const WORKING = ["click", "input", "change", "keydown"];   // someone using the card has seen it

export class Alerts {
  constructor() {
    this.current = null;           // {kind, text, target}
    this.area = null;              // the section the banner points into
    this.onWork = () => this.clear();
    this.seenTimer = null;
    this.audio = null;
    this.sound = getPref("sound") === "on";
    this.observer = "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => this.visibility(entries), { threshold: 0.6 }) : null;
    $("alert-go").addEventListener("click", () => this.showMe());
    $("alert-close").addEventListener("click", () => this.clear());
    const box = $("sound-box");
    box.checked = this.sound;
    box.addEventListener("change", () => {
      this.sound = box.checked;
      setPref("sound", this.sound ? "on" : "off");
      if (this.sound) this.tone();     // a sample, and browsers allow audio only after a gesture
    });
    document.addEventListener("visibilitychange", () => this.recheck());
  }

  raise(kind, text, target) {
    this.clear();
    this.current = { kind, text, target };
    setText($("alert-text"), text);
    show($("alert-banner"), true);
    document.title = `● ${text} – ${TITLE}`;
    try { if (navigator.vibrate) navigator.vibrate([180, 90, 180]); } catch (e) { /* not allowed: fine */ }
    if (this.sound) this.tone();
    const t = $(target);
    // working in the part it points at (a rating chosen, a field typed in) is seeing it, even
    // where its heading has scrolled away under the banner. Not on focus: a tap focuses before
    // it lands, and the banner going then would move the page under the finger.
    this.area = t && (t.closest("section") || t);
    if (this.area) for (const k of WORKING) this.area.addEventListener(k, this.onWork);
    if (t && this.observer) {
      // seen only if it was not already in view when raised: start watching on the next frame
      requestAnimationFrame(() => { if (this.current && this.current.target === target) this.observer.observe(t); });
    }
  }

  // Drops the banner of one kind (e.g. the turn ended before it was seen).
  drop(kind) { if (this.current && this.current.kind === kind) this.clear(); }

  clear() {
    clearTimeout(this.seenTimer);
    if (this.area) for (const k of WORKING) this.area.removeEventListener(k, this.onWork);
    this.area = null;
    if (this.observer) this.observer.disconnect();
    if (!this.current) return;
    this.current = null;
    show($("alert-banner"), false);
    document.title = TITLE;
  }

  showMe() {
    const target = this.current && $(this.current.target);
    this.clear();
    if (!target) return;
    target.scrollIntoView({ block: "start", behavior: "smooth" });
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  visibility(entries) {
    this.inView = entries.some((e) => e.isIntersecting);
    this.recheck();
  }

  recheck() {
    clearTimeout(this.seenTimer);
    if (this.current && this.inView && document.visibilityState === "visible") {
      this.seenTimer = setTimeout(() => this.clear(), SEEN_AFTER);
    }
  }

  tone() {
    try {
      this.audio = this.audio || new AudioContext();
      const a = this.audio;
      const o = a.createOscillator();
      const g = a.createGain();
      o.frequency.value = 660;
      g.gain.setValueAtTime(0.0001, a.currentTime);
      g.gain.exponentialRampToValueAtTime(0.2, a.currentTime + 0.03);
      g.gain.exponentialRampToValueAtTime(0.0001, a.currentTime + 0.5);
      o.connect(g).connect(a.destination);
      o.start();
      o.stop(a.currentTime + 0.55);
    } catch (e) { /* no audio here */ }
  }
}
