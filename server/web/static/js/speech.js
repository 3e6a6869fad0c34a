// What the page says besides what it shows: to screen readers, politely for news
// and assertively only for what needs the person now (their turn), and in the
// notice under the header, which goes away by itself.

import { $, setText, show } from "./dom.js";

export function announce(text, urgent = false) {
  const a = $(urgent ? "urgent" : "announcer");
  a.textContent = "";
  setTimeout(() => { a.textContent = text; }, 50);
}

let noticeTimer = null;

export function notice(text) {
  const n = $("notice");
  setText($("notice-text"), text);
  show(n, true);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show(n, false), 8000);
}

export function dismissNotice() {
  clearTimeout(noticeTimer);
  show($("notice"), false);
}

export function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }
