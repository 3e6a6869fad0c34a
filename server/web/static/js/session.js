// The client's side of the protocol as a machine: the twin of protocol/session.py, which
// docs/protocol.md section 14 specifies and tests/test_link_js.py holds this to (the same tables,
// the same stories, the same outputs). Frames and happenings in; frames to write and decisions
// out. No socket, no timer, no clock: every input carries `now`, in seconds. link.js is the
// browser's adapter around it.
//
// The position is the highest seq this page is sure to have seen everything up to (events, a
// fresh welcome, a pong); an event at or below it is a repeat. A reconnect says hello with
// resume = position and gets exactly the rest. Commands keep their id until answered and are sent
// again after a reconnect: the server applies an id once.

const PROTOCOL = 1;

export const STATES = ["connecting", "hello-sent", "live", "backing-off", "final"];
// Close reasons after which trying again cannot help, and the ending each means
export const FINAL_REASONS = {
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
export const REPLACED = 4000;
export const FINAL_REFUSALS = ["unauthorized", "forbidden", "version"];
// a reload can reach the server before the old page's socket has closed there: one quiet retry first
export const RETRY_ONCE = { "in-use": 2.0 };

// The page's policies. A phone that loses its network keeps its socket "open": nothing fails,
// nothing arrives. Only silence tells, so the page pings when the link is quiet and counts any
// frame as life; the pong's company also renews this device's credential (the `device` frame).
// Waits capped at about 3 s: a group's minutes are precious, and a retry is one small request.
export const POLICY = {
  backoff: { delays: [0.3, 1.0, 2.0, 3.0], jitter: [0.6, 1.0], steady_after: 5.0 },
  heartbeat: { ping_every: 2.0, dead_after: 4.5, renew_every: 15.0, hello_within: 6.0 },
  retry: { resends: null, within: null },
};

export function ending(refusal, code, reason) {
  if (code === REPLACED) return "replaced";
  if (refusal) {
    const message = refusal.message || "";
    if (refusal.code === "forbidden" && message.includes("removed")) return "removed";
    if (refusal.code === "closed" && message.includes("ended")) return "ended";
    if (!(reason in FINAL_REASONS) && FINAL_REFUSALS.includes(refusal.code)) return refusal.code;
  }
  return FINAL_REASONS[reason] || null;
}

export class Session {
  constructor(token, { policy = POLICY, rand = Math.random, device = false } = {}) {
    this.token = token;
    this.device = device;
    this.backoff = policy.backoff;
    this.heartbeat = policy.heartbeat;
    this.retry = policy.retry;
    this.rand = rand;
    this.state = "connecting";
    this.position = null;
    this.welcomed = false;
    this.everWelcomed = false;
    this.pending = new Map();   // id -> {frame, sent, resends, since}
    this.pings = new Map();     // id -> sent at
    this.pingIds = 0;
    this.attempt = 0;
    this.refusal = null;
    this.decision = null;
    this.retried = new Set();
    this.openedAt = this.liveSince = this.heard = this.pinged = 0;
    this.dialing = false;
  }

  opening(now) {
    this.state = "connecting";
    this.decision = null;
    this.dialing = true;
    this.openedAt = now;
  }

  connected(now, resume) {
    this.state = "hello-sent";
    this.decision = null;
    this.refusal = null;
    this.welcomed = false;
    if (!this.dialing) this.openedAt = now;
    this.heard = now;
    this.dialing = false;
    const hello = { t: "hello", token: this.token, protocol: PROTOCOL, resume: resume === undefined ? null : resume };
    if (this.device) hello.device = true;
    return hello;
  }

  receive(f, now) {
    this.heard = now;
    const out = [];
    if (f.t === "event") {
      const repeat = this.position !== null && f.seq <= this.position;
      if (!repeat) this.position = f.seq;
      return [{ t: "deliver", frame: f, repeat }];
    }
    if (f.t === "welcome") {
      if (!f.resumed) this.position = f.seq;   // a resumed welcome's seq is the room's: the replay moves it
      if (!this.welcomed) {
        this.welcomed = this.everWelcomed = true;
        this.state = "live";
        this.liveSince = now;
        out.push({ t: "deliver", frame: f, repeat: false });
        out.push(...this.resend(now));
        if (this.heartbeat) out.push(this.ping(now).send);   // the pong marks the end of a replay
        return out;
      }
    } else if ((f.t === "ack" || f.t === "error") && f.id && this.pending.has(f.id)) {
      this.pending.delete(f.id);
      out.push({ t: "answered", id: f.id, frame: f });
    } else if (f.t === "error" && !this.welcomed) {
      this.refusal = f;
      out.push({ t: "refused", error: f });
    } else if (f.t === "pong") {
      if (this.position !== null) this.position = Math.max(this.position, f.seq);
      if (this.pings.delete(f.id)) out.push({ t: "ponged", id: f.id, pong: f });
    }
    out.unshift({ t: "deliver", frame: f, repeat: false });
    return out;
  }

  closed(code, reason, now) {
    const wasLive = this.state === "live";
    this.pings.clear();
    this.dialing = false;
    const out = this.orphan(now);
    if (this.state === "final") return out;
    const kind = ending(this.refusal, code, reason);
    if (kind in RETRY_ONCE && !this.retried.has(kind)) {
      this.retried.add(kind);
      this.wait(now + RETRY_ONCE[kind], "lost", reason);
      return out;
    }
    if (kind) {
      this.finish(kind, this.refusal ? this.refusal.message : reason);
      return out.concat(this.orphan(now));
    }
    if (wasLive && now - this.liveSince >= this.backoff.steady_after) this.attempt = 0;
    const refused = this.refusal;
    // the server answered, and may yet let us in ("closed": the session has not opened yet)
    const why = refused ? (refused.code === "closed" ? "not-open" : "refused") : (this.everWelcomed ? "lost" : "unreachable");
    this.backoffFrom(now, why, refused ? refused.message : reason);
    return out;
  }

  failed(now, detail = "") {
    this.dialing = false;
    if (this.state !== "final") this.backoffFrom(now, this.everWelcomed ? "lost" : "unreachable", detail);
  }

  tick(now) {
    const out = [];
    const hb = this.heartbeat;
    if (hb && this.attempting() && hb.hello_within !== null && now - this.openedAt > hb.hello_within) {
      out.push({ t: "drop", why: "no welcome" });
    } else if (hb && this.state === "live") {
      if (now - this.heard > hb.dead_after) out.push({ t: "drop", why: "silent" });
      else if (now >= this.pingDue(hb)) out.push(this.ping(now).send);
    }
    if (this.state !== "live") {
      for (const [id, p] of this.pending) {
        if (p.since !== null && p.within !== null && now - p.since > p.within) {
          this.pending.delete(id);
          out.push({ t: "unanswered", id });
        }
      }
    }
    return out;
  }

  command(cmd, id, now) {
    const frame = { t: "cmd", id, cmd };
    const live = this.state === "live";
    const within = this.retry ? this.retry.within : null;
    this.pending.set(id, { frame, within, sent: live, resends: 0, since: live ? null : now });
    return live ? [{ t: "send", frame }] : [];
  }

  forget(id) { this.pending.delete(id); }

  ping(now) {
    this.pingIds += 1;
    this.pings.set(this.pingIds, now);
    this.pinged = now;
    return { id: this.pingIds, send: { t: "send", frame: { t: "ping", id: this.pingIds } } };
  }

  finish(kind, message = "") {
    if (this.state !== "final") {
      this.state = "final";
      this.decision = { t: "final", kind, message };
    }
  }

  backoffFrom(now, why, detail) {
    const b = this.backoff;
    const [lo, hi] = b.jitter;
    const delay = b.delays[Math.min(this.attempt, b.delays.length - 1)] * (lo + (hi - lo) * this.rand());
    this.wait(now + delay, why, detail);
    this.attempt += 1;
  }

  wait(at, why, detail) {
    this.state = "backing-off";
    this.decision = { t: "reconnect", at, why, detail };
  }

  orphan(now) {
    const out = [];
    const r = this.retry;
    for (const [id, p] of this.pending) {
      if (this.state === "final" || (p.sent && (!r || (r.resends !== null && p.resends >= r.resends)))) {
        this.pending.delete(id);
        out.push({ t: "unanswered", id });
      } else if (p.since === null) {
        p.since = now;
      }
    }
    return out;
  }

  resend(now) {
    const out = [];
    for (const [id, p] of this.pending) {
      if (p.since !== null && p.within !== null && now - p.since > p.within) {
        this.pending.delete(id);
        out.push({ t: "unanswered", id });
        continue;
      }
      if (p.sent) p.resends += 1;
      p.sent = true;
      p.since = null;
      out.push({ t: "send", frame: p.frame });   // the server applies an id once
    }
    return out;
  }

  attempting() { return this.state === "hello-sent" || (this.state === "connecting" && this.dialing); }

  pingDue(hb) {
    let quiet = this.heard + hb.ping_every;
    if (hb.renew_every !== null) quiet = Math.min(quiet, this.pinged + hb.renew_every);
    return Math.max(this.pinged + hb.ping_every, quiet);
  }
}
