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
const PING_EVERY = 15000;
const PONG_WITHIN = 8000;
const BACKOFF = [500, 1000, 2000, 4000, 8000, 15000];

// Close reasons after which trying again cannot help
const FINAL_REASONS = {
  "the session has ended": "ended",
  "removed": "removed",
  "denied": "denied",
  "left": "left",
  "unauthorized": "unauthorized",
  "forbidden": "forbidden",
  "protocol version": "version",
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
    this.h = handlers;     // onWelcome, onEvent, onError, onState(state, detail), onFinal(kind, message)
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
    this.lastRefusal = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  now() { return Date.now() / 1000 + this.offset; }

  start() { this.open(); }

  open() {
    if (this.final) return;
    clearTimeout(this.timer);
    this.welcomed = false;
    this.h.onState(this.attempt === 0 && this.lastSeq === null ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ t: "hello", token: this.token, protocol: PROTOCOL, resume: this.lastSeq }));
    };
    ws.onmessage = (m) => { if (ws === this.ws) this.frame(JSON.parse(m.data)); };
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
        this.h.onState("online");
        // resend what the server never acknowledged; it applies each id once
        for (const p of this.pending.values()) this.ws.send(JSON.stringify(p.frame));
        this.startPings();
        // the pong marks the end of a replay, and its round trip sharpens the clock offset
        this.ping();
        break;
      }
      case "event":
        if (this.lastSeq !== null && f.seq <= this.lastSeq) return;   // a repeat
        this.lastSeq = f.seq;
        this.h.onEvent(f);
        break;
      case "ack": {
        const p = this.pending.get(f.id);
        if (p) { this.pending.delete(f.id); p.resolve({ ok: true, seq: f.seq }); }
        break;
      }
      case "error": {
        const p = f.id ? this.pending.get(f.id) : null;
        if (p) { this.pending.delete(f.id); p.resolve({ ok: false, code: f.code, message: f.message }); }
        else {
          this.lastRefusal = f;
          this.h.onError(f);
        }
        break;
      }
      case "pong": {
        clearTimeout(this.pongTimer);
        const rtt = f.id === this.pingId ? Date.now() - this.pingSent : 0;
        this.offset = f.server_time - (Date.now() - rtt / 2) / 1000;
        if (this.lastSeq !== null && f.seq > this.lastSeq) this.lastSeq = f.seq;
        break;
      }
    }
  }

  startPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY);
  }

  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.pingId += 1;
    this.pingSent = Date.now();
    this.ws.send(JSON.stringify({ t: "ping", id: this.pingId }));
    clearTimeout(this.pongTimer);
    // no answer in time: the network is gone even if the socket has not noticed
    this.pongTimer = setTimeout(() => { if (this.ws) this.ws.close(); this.closed(1006, ""); }, PONG_WITHIN);
  }

  closed(code, reason) {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; }
    if (this.final) return;
    const refusal = this.lastRefusal;
    let kind = FINAL_REASONS[reason];
    if (refusal && (refusal.code === "unauthorized" || refusal.code === "forbidden" || refusal.code === "version")) {
      kind = refusal.code;
    }
    if (code === 4000) kind = "replaced";
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
    const delay = base / 2 + Math.random() * base / 2;
    this.h.onState(refusal && refusal.code === "closed" ? "not-open" : "reconnecting", refusal);
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
    this.open();
  }

  send(cmd) {
    const id = `${this.prefix}-${++this.n}`;
    const frame = { t: "cmd", id, cmd };
    return new Promise((resolve) => {
      this.pending.set(id, { frame, resolve });
      if (this.ws && this.ws.readyState === WebSocket.OPEN && this.welcomed) {
        this.ws.send(JSON.stringify(frame));
      }
    });
  }

  stop() {
    this.final = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    if (this.ws) this.ws.close(1000);
  }
}
