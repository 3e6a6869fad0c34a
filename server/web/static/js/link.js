// The websocket link to the session server: the browser's adapter around the
// protocol's machine (session.js, the twin of protocol/session.py). The machine
// decides: the hello and its resume, which events are repeats, which commands
// go out again after a reconnect, when to ping, when the link is dead, how long
// to wait before the next try, and which closes are final. This file owns the
// WebSocket, one timer, the clock and the page's handlers.

import { Session } from "./session.js";

function randomId() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const seconds = () => Date.now() / 1000;

export class Link {
  constructor(url, token, handlers) {
    this.url = url;
    // device: true asks the server to exchange a link for this device's own credential
    this.m = new Session(token, { device: true });
    // onWelcome, onEvent, onError, onState(state, detail), onFinal(kind, message), onDevice(frame), onPending(n)
    this.h = handlers;
    this.state = null;
    this.ws = null;
    this.offset = 0;       // server clock minus ours, seconds
    this.pending = new Map();   // id -> {frame, resolve}
    this.prefix = randomId();
    this.n = 0;
    this.final = false;
    this.timer = null;
    this.pingTimer = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  get token() { return this.m.token; }
  set token(t) { this.m.token = t; }
  get lastSeq() { return this.m.position; }
  get welcomed() { return this.m.state === "live"; }

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
    if (this.state === null) this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.m.failed(seconds(), String(e));
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.m.opening(seconds());      // the attempt's clock starts now: an upgrade that hangs is a failure
    this.startWatch();
    ws.onopen = () => ws.send(JSON.stringify(this.m.connected(seconds(), this.m.position)));
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      const f = JSON.parse(m.data);
      const sent = f.t === "pong" ? this.m.pings.get(f.id) : undefined;
      this.apply(this.m.receive(f, seconds()), sent);
    };
    ws.onclose = (e) => { if (ws === this.ws) this.closed(e.code, e.reason); };
    ws.onerror = () => {};
  }

  apply(outputs, pingSent) {
    for (const o of outputs) {
      if (o.t === "deliver" && !o.repeat) this.frame(o.frame, pingSent);
      else if (o.t === "send") this.write(o.frame);
      else if (o.t === "answered") this.answer(o.id, o.frame.t === "ack"
        ? { ok: true, seq: o.frame.seq } : { ok: false, code: o.frame.code, message: o.frame.message });
      else if (o.t === "unanswered") this.answer(o.id, { ok: false, code: "closed", message: "not sent: the connection ended" });
      else if (o.t === "drop") this.drop();
    }
  }

  frame(f, pingSent) {
    switch (f.t) {
      case "welcome":
        this.offset = f.server_time - Date.now() / 1000;
        this.h.onWelcome(f);
        this.setState("online");
        break;
      case "device":
        // from now on this device says hello with its own credential, never the link
        this.token = f.credential;
        if (this.h.onDevice) this.h.onDevice(f);
        break;
      case "event":
        this.h.onEvent(f);
        break;
      case "error":
        if (!f.id || !this.pending.has(f.id)) this.h.onError(f);
        break;
      case "pong": {
        // the round trip sharpens the clock offset
        const rtt = pingSent !== undefined ? Date.now() - pingSent * 1000 : 0;
        this.offset = f.server_time - (Date.now() - rtt / 2) / 1000;
        break;
      }
    }
  }

  answer(id, result) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.resolve(result);
    this.pendingChanged();
  }

  write(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  // One timer per link: the machine says when to ping and when a link (or an
  // attempt that never gets its welcome) is dead.
  startWatch() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.apply(this.m.tick(seconds())), 500);
  }

  drop() {
    const ws = this.ws;
    this.closed(1006, "");
    if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
  }

  closed(code, reason) {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; ws.onopen = null; }
    if (this.final) return;
    const refusal = this.m.refusal;
    this.apply(this.m.closed(code, reason, seconds()));
    const d = this.m.decision;
    if (d.t === "final") {
      this.final = true;
      this.h.onFinal(d.kind, d.message);
      return;
    }
    this.scheduleReconnect(refusal);
  }

  scheduleReconnect(refusal) {
    const d = this.m.decision;
    // "not open yet" stays so through failed attempts until a welcome or a real drop
    const notOpen = d.why === "not-open" || (this.state === "not-open" && d.why === "unreachable");
    this.setState(notOpen ? "not-open" : "reconnecting", refusal);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), Math.max(0, (d.at - seconds()) * 1000));
  }

  reconnectSoon(delay) {
    if (this.final || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  // Called when the person asks to try again after a final refusal (e.g. another tab took over).
  restart() {
    this.final = false;
    this.m.attempt = 0;
    this.state = null;
    this.open();
  }

  send(cmd) {
    const id = `${this.prefix}-${++this.n}`;
    return new Promise((resolve) => {
      this.pending.set(id, { frame: { t: "cmd", id, cmd }, resolve });
      this.pendingChanged();
      this.apply(this.m.command(cmd, id, seconds()));
    });
  }

  stop() {
    this.final = true;
    this.m.finish("closing");
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
  }
}
