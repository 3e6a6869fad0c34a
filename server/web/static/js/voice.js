// Voice for the group: a small client for Janus's VideoRoom API, written for this page.
//
// It speaks Janus's JSON API over one websocket. In the product that socket is
// the session server's own /media relay (same origin, so the CSP keeps
// connect-src 'self'); the relay adds the Janus token and the room's pin, and
// lets through only what this participant may ask. So this file never holds a
// secret: it asks to join "the room I am in", and the server says which.
//
// One publisher handle sends our microphone (and the camera, if turned on);
// one subscriber handle receives everyone else in the room as one multistream
// peer connection. Nothing is recorded anywhere.

const KEEPALIVE_MS = 20000;
export const NO_VOICE = "voice is not available on this server";   // server/media/relay.py's close reason
const WATCH_MS = 2500;     // how often we check that we are hearing the room

let txn = 0;
const nextTxn = () => `v${++txn}`;

export class Voice {
  // url: the websocket to Janus's API (the relay); hooks: onPeers(list), onTalking(id, on),
  // onState(text), onClosed(reason)
  constructor(url, hooks = {}, protocol = null) {
    this.url = url;
    this.protocol = protocol;  // "janus-protocol" when talking to Janus itself (tests); none through the relay
    this.hooks = hooks;
    this.ws = null;
    this.session = null;
    this.pub = null;          // publisher handle id
    this.sub = null;          // subscriber handle id
    this.pcPub = null;
    this.pcSub = null;
    this.stream = null;
    this.pending = new Map(); // transaction -> resolve
    this.feeds = new Map();   // publisher id -> {display, streams}
    this.subscribed = new Set();
    this.mids = new Map();    // subscriber mid -> publisher id
    this.myId = null;
    this.muted = false;
    this.mutedByStaff = false;
    this.audioOut = new Map(); // publisher id -> <audio>
    this._subQueue = Promise.resolve();
  }

  // --- the API ------------------------------------------------------------

  _send(msg) {
    const transaction = nextTxn();
    const full = Object.assign({ transaction }, msg);
    if (this.session && !("session_id" in full) && msg.janus !== "create") full.session_id = this.session;
    if (this.token) full.token = this.token;   // only when talking to Janus directly
    return new Promise((resolve, reject) => {
      this.pending.set(transaction, { resolve, reject, ackOnly: msg.janus === "trickle" || msg.janus === "keepalive" });
      this.ws.send(JSON.stringify(full));
    });
  }

  _message(handle, body, jsep) {
    const msg = { janus: "message", handle_id: handle, body };
    if (jsep) msg.jsep = jsep;
    return this._send(msg);
  }

  _onMessage(raw) {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    const p = msg.transaction && this.pending.get(msg.transaction);
    if (p) {
      if (msg.janus === "ack" && !p.ackOnly) return;      // the answer comes as an event
      this.pending.delete(msg.transaction);
      if (msg.janus === "error") p.reject(new Error(msg.error?.reason || "refused"));
      else p.resolve(msg);
      return;
    }
    if (msg.janus === "moved") { this._rejoin(); return; }
    if (msg.janus === "closed") { this.closedReason = msg.reason; return; }
    if (msg.janus === "event") this._onEvent(msg);
    else if (msg.janus === "hangup" && msg.sender === this.pub) this.hooks.onState?.("Voice stopped");
  }

  _onEvent(msg) {
    const data = msg.plugindata?.data || {};
    if (msg.sender === this.pub) {
      if (data.publishers) this._addFeeds(data.publishers);
      if (data.leaving || data.unpublished) this._dropFeed(data.leaving || data.unpublished);
      if (data.videoroom === "talking" || data.videoroom === "stopped-talking") {
        this.hooks.onTalking?.(data.id, data.videoroom === "talking");
      }
      if (data.videoroom === "event" && data.error_code) this.hooks.onState?.(data.error);
      if (data.videoroom === "destroyed") this.hooks.onClosed?.("the room closed");
      if (data.muted !== undefined && data.id === this.myId) {
        // a facilitator's mute (VideoRoom "moderate"): it holds until they lift it
        this.mutedByStaff = !!data.muted;
        this.hooks.onState?.(this._stateText());
      }
    } else if (msg.sender === this.sub && msg.jsep) {
      const gen = this.gen;
      this._subQueue = this._subQueue.then(() => this._answer(msg.jsep, data.streams, gen)).catch(() => {});
    }
  }

  // --- joining, publishing, listening ---------------------------------------

  async join({ audio = true, video = false, publish = true } = {}) {
    this.ws = this.protocol ? new WebSocket(this.url, this.protocol) : new WebSocket(this.url);
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error("voice could not connect"));
    });
    this.ws.onmessage = (e) => this._onMessage(e.data);
    this.ws.onclose = (e) => {
      // a server without voice (--no-media) says so in the close (docs/protocol.md, close codes)
      if (e.code === 1008 && e.reason === NO_VOICE) this.unavailable = true;
      this._teardown();
      if (!this.leaving) this.hooks.onClosed?.(this.closedReason || e.reason || "voice connection closed");
    };
    this.options = { audio, video, publish };
    // through the relay: the session's own credential first; it answers with the room we are in
    if (this.credential) await this._send({ janus: "auth", credential: this.credential });
    await this._start();
  }

  async _start() {
    const { audio, video, publish } = this.options;
    // a generation per Janus session: work still under way for an older one (after a
    // move) must not touch this one's handles, subscriptions or peer connection
    this.gen = (this.gen || 0) + 1;
    this.feeds.clear(); this.subscribed.clear(); this.mids.clear();
    this.mutedByStaff = false;
    const s = await this._send({ janus: "create" });
    this.session = s.data.id;
    this._keepalive = setInterval(() => this._send({ janus: "keepalive" }).catch(() => {}), KEEPALIVE_MS);
    clearInterval(this._watch);
    this._stuck = 0;
    this._watch = setInterval(() => this._checkListening(), WATCH_MS);
    const h = await this._send({ janus: "attach", plugin: "janus.plugin.videoroom" });
    this.pub = h.data.id;
    // the relay names the room and adds its pin: we only say who we are joining as
    const joinBody = { request: "join", ptype: "publisher" };
    if (this.listen) joinBody.listen = this.listen;         // staff: hear a breakout room, unheard
    const joined = await this._message(this.pub, joinBody);
    const jd = joined.plugindata?.data || {};
    if (jd.videoroom !== "joined") throw new Error(jd.error || "could not join voice");
    this.myId = jd.id;
    if (publish) await this._publish(audio, video);
    this._addFeeds(jd.publishers || []);
    this.hooks.onState?.(this._stateText());
  }

  async _publish(audio, video) {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio, video: video ? { width: 320, height: 240 } : false });
    const pc = this.pcPub = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    pc.onicecandidate = (e) => this._trickle(this.pub, e.candidate);
    for (const t of this.stream.getTracks()) pc.addTransceiver(t, { direction: "sendonly", streams: [this.stream] });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const r = await this._message(this.pub, { request: "publish", audio: !!audio, video: !!video },
      { type: offer.type, sdp: offer.sdp });
    if (!r.jsep) throw new Error(r.plugindata?.data?.error || "voice was refused");
    await pc.setRemoteDescription(r.jsep);
  }

  _trickle(handle, c) {
    const candidate = c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { completed: true };
    this._send({ janus: "trickle", handle_id: handle, candidate }).catch(() => {});
  }

  _addFeeds(list) {
    const fresh = [];
    for (const p of list) {
      if (p.id === this.myId || p.dummy) continue;
      this.feeds.set(p.id, { display: p.display || "", streams: p.streams || [] });
      if (!this.subscribed.has(p.id)) fresh.push(p.id);
    }
    this.hooks.onPeers?.(this.peers());
    const gen = this.gen;
    if (fresh.length) this._subQueue = this._subQueue.then(() => this._subscribe(fresh, gen)).catch((e) => { if (gen === this.gen) this.hooks.onState?.(String(e.message || e)); });
  }

  _dropFeed(id) {
    this.feeds.delete(id);
    this.subscribed.delete(id);
    const el = this.audioOut.get(id);
    if (el) { el.srcObject = null; el.remove(); this.audioOut.delete(id); }
    this.hooks.onPeers?.(this.peers());
  }

  async _subscribe(ids, gen = this.gen) {
    if (gen !== this.gen) return;
    ids = ids.filter((id) => !this.subscribed.has(id));
    if (!ids.length) return;
    const streams = ids.map((feed) => ({ feed }));
    for (const id of ids) this.subscribed.add(id);
    let r;
    if (this.sub === null) {
      const h = await this._send({ janus: "attach", plugin: "janus.plugin.videoroom" });
      if (gen !== this.gen) return;
      this.sub = h.data.id;
      r = await this._message(this.sub, { request: "join", ptype: "subscriber", streams });
    } else {
      r = await this._message(this.sub, { request: "subscribe", streams });
    }
    // the offer for the new streams comes as the answer to that request
    if (r.jsep && gen === this.gen) await this._answer(r.jsep, r.plugindata?.data?.streams, gen);
  }

  async _answer(jsep, streams, gen = this.gen) {
    if (gen !== this.gen) return;
    for (const s of streams || []) if (s.mid !== undefined && s.feed_id !== undefined) this.mids.set(s.mid, s.feed_id);
    if (!this.pcSub) {
      const pc = this.pcSub = new RTCPeerConnection({ iceServers: this.iceServers || [] });
      pc.onicecandidate = (e) => this._trickle(this.sub, e.candidate);
      pc.ontrack = (e) => this._play(e);
    }
    const pc = this.pcSub;
    await pc.setRemoteDescription(jsep);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (gen !== this.gen) return;
    await this._message(this.sub, { request: "start" }, { type: answer.type, sdp: answer.sdp });
  }

  _play(e) {
    const feed = this.mids.get(e.transceiver?.mid);
    if (e.track.kind !== "audio") { this.hooks.onVideo?.(feed, e.track); return; }
    const el = document.createElement("audio");
    el.autoplay = true;
    el.srcObject = new MediaStream([e.track]);
    el.dataset.feed = String(feed);
    document.body.appendChild(el);
    if (feed !== undefined) this.audioOut.set(feed, el);
  }

  // Hearing the others is one peer connection. If it has not come up a few seconds
  // after there is someone to hear (lost ICE, an offer that crossed a move), it is
  // built again from scratch rather than left silent.
  _checkListening() {
    if (!this.session || this.moving || !this.feeds.size) { this._stuck = 0; return; }
    const st = this.pcSub ? this.pcSub.connectionState : "none";
    this._stuck = ["connected", "connecting"].includes(st) ? 0 : this._stuck + 1;
    if (this._stuck < 2) return;
    this._stuck = 0;
    const gen = this.gen;
    const old = this.sub;
    this.pcSub?.close();
    this.pcSub = null;
    this.sub = null;
    this.subscribed.clear();
    this.mids.clear();
    for (const el of this.audioOut.values()) { el.srcObject = null; el.remove(); }
    this.audioOut.clear();
    if (old !== null) this._send({ janus: "detach", handle_id: old }).catch(() => {});
    const feeds = [...this.feeds.keys()];
    this._subQueue = this._subQueue.then(() => this._subscribe(feeds, gen)).catch(() => {});
  }

  // the person moved (a breakout opened, they were moved, or everyone came back):
  // the server ended our Janus session; join the room we are in now, as before
  async _rejoin() {
    // one move at a time: a second "moved" during a move means "check again after it"
    if (this.moving) { this.moveAgain = true; return; }
    this.moving = true;
    try {
      do {
        this.moveAgain = false;
        await this._moveOnce();
      } while (this.moveAgain);
    } finally {
      this.moving = false;
    }
  }

  async _moveOnce() {
    this.hooks.onState?.("Moving your voice…");
    for (const pc of [this.pcPub, this.pcSub]) pc?.close();
    for (const t of this.stream?.getTracks() || []) t.stop();
    for (const el of this.audioOut.values()) { el.srcObject = null; el.remove(); }
    this.audioOut.clear();
    this.pcPub = this.pcSub = this.stream = null;
    this.pub = this.sub = this.session = null;
    clearInterval(this._keepalive);
    this._subQueue = Promise.resolve();
    // answers that would belong to the old session never come: let their waiters go
    for (const p of this.pending.values()) p.reject(new Error("moved"));
    this.pending.clear();
    try {
      await this._start();
      this.setMuted(this.muted);
    } catch (e) {
      this.hooks.onState?.(String(e.message || e));
    }
  }

  // --- what the participant controls ------------------------------------------

  setMuted(on) {
    this.muted = !!on;
    for (const t of this.stream?.getAudioTracks() || []) t.enabled = !this.muted;
    this.hooks.onState?.(this._stateText());
  }

  _stateText() {
    if (this.mutedByStaff) return "A facilitator has muted you";
    return this.muted ? "You are muted" : "Your microphone is on";
  }

  peers() {
    return [...this.feeds.entries()].map(([id, f]) => ({ id, display: f.display }));
  }

  async leave() {
    this.leaving = true;
    try { if (this.pub !== null) await this._message(this.pub, { request: "leave" }); } catch { /* closing anyway */ }
    this.ws?.close();
    this._teardown();
  }

  _teardown() {
    clearInterval(this._keepalive);
    clearInterval(this._watch);
    for (const pc of [this.pcPub, this.pcSub]) pc?.close();
    for (const t of this.stream?.getTracks() || []) t.stop();
    for (const el of this.audioOut.values()) { el.srcObject = null; el.remove(); }
    this.audioOut.clear();
    this.pcPub = this.pcSub = this.stream = null;
    for (const p of this.pending.values()) p.reject(new Error("voice closed"));
    this.pending.clear();
  }

  // inbound audio energy per publisher, for the speaking indicator and the tests
  async energy() {
    const out = {};
    if (!this.pcSub) return out;
    const stats = await this.pcSub.getStats();
    stats.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        const feed = this.mids.get(r.mid);
        out[feed ?? r.mid] = { energy: r.totalAudioEnergy || 0, packets: r.packetsReceived || 0 };
      }
    });
    return out;
  }
}
