// The websocket link to the session server: hello, resume, commands with
// client-made ids, pings, and reconnecting with backoff.
//
// Every event carries the room's seq. `lastSeq` is the highest position this
// page is sure to have seen everything up to (events, a fresh welcome, a
// pong); an event at or below it is a repeat and is dropped. A reconnect
// says hello with resume = lastSeq and gets exactly the rest.
// Commands keep their id until acknowledged and are sent again after a
// reconnect: the server applies a retried id once.

const PROTOCOL = 1;
// A phone that loses its network keeps its socket "open": nothing fails, nothing
// arrives. Only silence tells, so the page pings when the link is quiet and
// counts any frame as life. Tiny frames: a JSON ping is ~20 bytes.
const PING_EVERY = 2000;
const DEAD_AFTER = 4500;        // nothing heard for this long: the link is gone
const CONNECT_WITHIN = 6000;
const RENEW_EVERY = 15000;      // ping at least this often, even when frames keep coming    // an upgrade or hello that hangs is a failed attempt
// Capped at about 3 s: a group's minutes are precious, and a retry is one small request.
const BACKOFF = [300, 1000, 2000, 3000];

// Close reasons after which trying again cannot help
const FINAL_REASONS = {
  "the session has ended": "ended",
  "removed": "removed",
  "denied": "denied",
  "left": "left",
  "unauthorized": "unauthorized",
  "forbidden": "forbidden",
  "protocol version": "version",
  "in use": "in-use",          // the link is open in another tab or on another device
  "elsewhere": "elsewhere",    // a newer device took this person's place
};

function randomId() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class Link {
  constructor(url, token, handlers) {
    this.url = url;
    this.token = token;
    // onWelcome, onEvent, onError, onState(state, detail), onFinal(kind, message), onDevice(frame), onPending(n)
    this.h = handlers;
    this.state = null;
    this.ws = null;
    this.lastSeq = null;   // null until the first welcome
    this.offset = 0;       // server clock minus ours, seconds
    this.pending = new Map();   // id -> {frame, resolve}
    this.prefix = randomId();
    this.n = 0;
    this.attempt = 0;
    this.final = false;
    this.welcomed = false;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pingId = 0;
    this.pingSent = 0;
    this.heard = 0;
    this.lastRefusal = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  // Tells the page only when the state changes, so a live region is not told
  // "Reconnecting…" again on every retry.
  setState(kind, detail) {
    if (kind === this.state) return;
    this.state = kind;
    this.h.onState(kind, detail);
  }

  pendingChanged() { if (this.h.onPending) this.h.onPending(this.pending); }

  now() { return Date.now() / 1000 + this.offset; }

  start() { this.open(); }

  open() {
    if (this.final) return;
    clearTimeout(this.timer);
    this.welcomed = false;
    if (this.state === null) this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.heard = Date.now();
    this.startWatch();
    ws.onopen = () => {
      // device: true asks the server to exchange a link for this device's own credential
      ws.send(JSON.stringify({ t: "hello", token: this.token, protocol: PROTOCOL, resume: this.lastSeq, device: true }));
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      this.heard = Date.now();
      this.frame(JSON.parse(m.data));
    };
    ws.onclose = (e) => { if (ws === this.ws) this.closed(e.code, e.reason); };
    ws.onerror = () => {};
  }

  frame(f) {
    switch (f.t) {
      case "welcome": {
        this.offset = f.server_time - Date.now() / 1000;
        this.welcomed = true;
        this.attempt = 0;
        this.lastRefusal = null;
        if (!f.resumed) this.lastSeq = f.seq;
        this.h.onWelcome(f);
        this.setState("online");
        // resend what the server never acknowledged; it applies each id once
        for (const p of this.pending.values()) this.ws.send(JSON.stringify(p.frame));
        // the pong marks the end of a replay, and its round trip sharpens the clock offset
        this.ping();
        break;
      }
      case "device":
        // from now on this device says hello with its own credential, never the link
        this.token = f.credential;
        if (this.h.onDevice) this.h.onDevice(f);
        break;
      case "event":
        if (this.lastSeq !== null && f.seq <= this.lastSeq) return;   // a repeat
        this.lastSeq = f.seq;
        this.h.onEvent(f);
        break;
      case "ack": {
        const p = this.pending.get(f.id);
        if (p) { this.pending.delete(f.id); p.resolve({ ok: true, seq: f.seq }); this.pendingChanged(); }
        break;
      }
      case "error": {
        const p = f.id ? this.pending.get(f.id) : null;
        if (p) { this.pending.delete(f.id); p.resolve({ ok: false, code: f.code, message: f.message }); this.pendingChanged(); }
        else {
          this.lastRefusal = f;
          this.h.onError(f);
        }
        break;
      }
      case "pong": {
        const rtt = f.id === this.pingId ? Date.now() - this.pingSent : 0;
        this.offset = f.server_time - (Date.now() - rtt / 2) / 1000;
        if (this.lastSeq !== null && f.seq > this.lastSeq) this.lastSeq = f.seq;
        break;
      }
    }
  }

  // One timer per link: ping when quiet; give up on a link that stays silent,
  // or on an attempt that never gets its welcome.
  startWatch() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      const limit = this.welcomed ? DEAD_AFTER : CONNECT_WITHIN;
      if (now - this.heard > limit) {
        const ws = this.ws;
        this.closed(1006, "");
        if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
        return;
      }
      // quiet for a while, or (in a busy room) not pinged for RENEW_EVERY: the pong's
      // company renews this device's credential (see the `device` frame)
      const quiet = now - this.heard >= PING_EVERY - 250;
      if (this.welcomed && (quiet || now - this.pingSent >= RENEW_EVERY) && now - this.pingSent >= PING_EVERY - 250) this.ping();
    }, 500);
  }

  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.pingId += 1;
    this.pingSent = Date.now();
    this.ws.send(JSON.stringify({ t: "ping", id: this.pingId }));
  }

  closed(code, reason) {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; ws.onopen = null; }
    if (this.final) return;
    const refusal = this.lastRefusal;
    let kind = FINAL_REASONS[reason];
    if (!kind && refusal && (refusal.code === "unauthorized" || refusal.code === "forbidden" || refusal.code === "version")) {
      kind = refusal.code;
    }
    if (code === 4000) kind = "replaced";
    if (kind === "in-use" && !this.inUseRetried) {
      // a reload can reach the server before the old page's socket has closed there:
      // one quiet retry before saying the link is open elsewhere
      this.inUseRetried = true;
      this.lastRefusal = null;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), 2000);
      return;
    }
    if (kind) {
      this.final = true;
      this.h.onFinal(kind, refusal ? refusal.message : reason);
      return;
    }
    this.scheduleReconnect(refusal);
  }

  scheduleReconnect(refusal) {
    const base = BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)];
    this.attempt += 1;
    // jitter: a room whose server restarts does not come back all in the same instant
    const delay = base * (0.6 + 0.4 * Math.random());
    // "not open yet" stays so through failed attempts until a welcome or a real drop
    const notOpen = (refusal && refusal.code === "closed") || (this.state === "not-open" && !this.welcomed);
    this.setState(notOpen ? "not-open" : "reconnecting", refusal);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  reconnectSoon(delay) {
    if (this.final || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  // Called when the person asks to try again after a final refusal (e.g. another tab took over).
  restart() {
    this.final = false;
    this.attempt = 0;
    this.lastRefusal = null;
    this.state = null;
    this.open();
  }

  send(cmd) {
    const id = `${this.prefix}-${++this.n}`;
    const frame = { t: "cmd", id, cmd };
    return new Promise((resolve) => {
      this.pending.set(id, { frame, resolve });
      this.pendingChanged();
      if (this.ws && this.ws.readyState === WebSocket.OPEN && this.welcomed) {
        this.ws.send(JSON.stringify(frame));
      }
    });
  }

  stop() {
    this.final = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
  }
}
