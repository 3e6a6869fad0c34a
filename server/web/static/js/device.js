// What this device keeps between reloads of one tab, and nothing longer.
//
// The join link's token is read from the fragment once, then taken out of the
// address bar and the history entry. It is kept (in this tab's sessionStorage)
// only until the server exchanges it for this device's own credential, which is
// short-lived and renewed while connected. On leaving, at the end and on
// removal, everything is cleared: a shared phone keeps no way into the group.
// After leaving, a mark with no credential in it remembers that the person left,
// so that a reload says so instead of going back in.

const PASS = "group-pass";     // {token, device}: the link's token, or this device's credential
const LEFT = "group-left";
const KEYS = [PASS, LEFT, "group-token", "group-sound"];

function store() {
  try { return window.sessionStorage; } catch (e) { return null; }   // private modes may refuse
}

export function takePass() {
  const m = /(?:^#|&)t=([^&]+)/.exec(location.hash);
  const s = store();
  if (m) {
    const token = decodeURIComponent(m[1]);
    // the same entry, without the fragment, under a neutral title
    document.title = "Group session";
    history.replaceState(null, "Group session", location.pathname + location.search);
    clearAll();      // a link opened again starts a new visit
    const pass = { token, device: false };
    if (s) s.setItem(PASS, JSON.stringify(pass));
    return pass;
  }
  if (!s) return null;
  try {
    const pass = JSON.parse(s.getItem(PASS) || "null");
    return pass && typeof pass.token === "string" ? pass : null;
  } catch (e) { return null; }
}

export function keepCredential(credential) {
  const s = store();
  if (s) s.setItem(PASS, JSON.stringify({ token: credential, device: true }));
}

export function hasLeft() {
  const s = store();
  return !!(s && s.getItem(LEFT));
}

export function clearAll() {
  const s = store();
  if (!s) return;
  for (const k of KEYS) s.removeItem(k);
}

export function markLeft() {
  clearAll();
  const s = store();
  if (s) s.setItem(LEFT, "1");
}

export function getPref(key) {
  const s = store();
  return s ? s.getItem(`group-${key}`) : null;
}

export function setPref(key, value) {
  const s = store();
  if (s) s.setItem(`group-${key}`, value);
}
