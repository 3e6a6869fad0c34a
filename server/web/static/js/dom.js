// Small DOM helpers: build elements without innerHTML (nothing a person types
// is ever parsed as markup), and change text only when it changes, so screen
// readers do not hear live regions repeat themselves.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function show(node, visible) {
  if (node.hidden === !!visible) node.hidden = !visible;
}

export function clock(seconds) {
  // rounds up, so 0:00 shows when time is up; a few hundredths of clock skew
  // must not show a five-minute timer as 5:01
  const s = Math.max(0, Math.ceil(seconds - 0.25));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

// "4 minutes", "1 minute", "40 seconds": what a screen reader should say
export function spokenDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 90) { const m = Math.round(s / 60); return `${m} minutes`; }
  if (s >= 60) return "1 minute";
  return `${s} seconds`;
}

export function ordinal(n) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

export function listNames(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

export function hhmm(unix) {
  const d = new Date(unix * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
