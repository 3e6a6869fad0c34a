// The participant's picture of the room: the welcome's ParticipantView, then
// every event addressed to this participant folded into it, in seq order.
// It is a translation of the engine's evolve_view (server/engine/view_fold.py):
// tests/test_view_fold.py folds every scenario's frames with it, under Node, and
// compares the result with the server's participant_view on the whole view, at
// every event; the browser test compares the two after a session.

const CHAT_KEPT = 200;
const WARNING_BEFORE = 60;

export function fromView(view, you) {
  const s = structuredClone(view);
  s.you = you || { id: s.me, name: "", role: "participant" };
  s.names = {};
  for (const p of s.present || []) s.names[p.id] = p.name;
  if (s.you && s.you.name) s.names[s.me] = s.you.name;
  s.queue_mode = s.queue_mode || "fifo";
  s.rooms = s.rooms || [];      // every breakout room while they are open, as the view has them
  s.broadcasts = s.broadcasts || [];
  s.survey = s.survey || null;   // the satisfaction survey, once asked: only whether they answered
  return s;
}

export function nameOf(s, id) {
  if (id === s.me) return "You";
  return (s.names && s.names[id]) || "A participant";
}

function dropPresent(s, id) {
  s.present = s.present.filter((p) => p.id !== id);
}

// person_order (server/engine/view_fold.py): staff first, then by name, as the server's view
const ROLE_RANK = { facilitator: 0, cofacilitator: 1, observer: 2, participant: 3 };
const rank = (p) => ROLE_RANK[p.role] ?? 9;

function addPresent(s, id, name, role) {
  dropPresent(s, id);
  s.present.push({ id, name, role });
  s.present.sort((a, b) => rank(a) - rank(b) || cmp(a.name.toLowerCase(), b.name.toLowerCase()) || cmp(a.id, b.id));
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function leaves(s, id) {
  dropPresent(s, id);
  s.queue = s.queue.filter((q) => q !== id);
  if (s.go_around) s.go_around = s.go_around.filter((q) => q !== id);
}

function findPoll(s, id) {
  return s.polls.find((p) => p.id === id);
}

function myRoomFrom(s, rooms) {
  for (let i = 0; i < rooms.length; i++) {
    if (rooms[i].includes(s.me)) return i + 1;
  }
  return null;
}

const FOLD = {
  mic_muted(s, ev) { if (ev.person === s.me) s.muted = true; },
  mic_unmuted(s, ev) { if (ev.person === s.me) s.muted = false; },
  floor_held(s, ev) { s.floor_held = ev.on; },
  session_opened(s) { s.phase = "open"; },
  session_closed(s) { s.phase = "closed"; s.queue = []; if (s.status === "present") s.status = "left"; },
  participant_waiting(s, ev) { if (ev.person === s.me) s.status = "waiting"; },
  waiting_left(s, ev) { if (ev.person === s.me && s.status === "waiting") s.status = "absent"; },
  agreement_accepted(s, ev) { if (ev.person === s.me) s.agreed = true; },
  location_checked_in(s, ev) { if (ev.person === s.me) s.checked_in = true; },
  admitted(s, ev) {
    s.names[ev.person] = ev.name;
    if (ev.person === s.me) s.status = "present";
    addPresent(s, ev.person, ev.name || s.names[ev.person] || "", "participant");
  },
  returned(s, ev) {
    if (ev.name) s.names[ev.person] = ev.name;
    if (ev.person === s.me) s.status = "present";
    addPresent(s, ev.person, ev.name || s.names[ev.person] || "", "participant");
  },
  denied(s, ev) { if (ev.person === s.me) s.status = "denied"; },
  removed(s, ev) { leaves(s, ev.person); if (ev.person === s.me) s.status = "removed"; },
  left(s, ev) { leaves(s, ev.person); if (ev.person === s.me) s.status = "left"; },
  dropped(s, ev) { dropPresent(s, ev.person); if (ev.person === s.me) s.status = "dropped"; },
  // staff come and go for everyone in the room (observers too): the list shows them with their role
  staff_entered(s, ev) { s.names[ev.person] = ev.name; addPresent(s, ev.person, ev.name, ev.role); },
  staff_left(s, ev) { dropPresent(s, ev.person); },

  hand_raised(s, ev) {
    // the event says where the hand went (by talk time in "fair" mode)
    if (s.queue.includes(ev.person)) return;
    const at = ev.position > 0 ? Math.min(ev.position - 1, s.queue.length) : s.queue.length;
    s.queue.splice(at, 0, ev.person);
  },
  hand_lowered(s, ev) { s.queue = s.queue.filter((q) => q !== ev.person); },
  turn_started(s, ev, at) {
    s.speaker = ev.person;
    s.turn_ends = ev.ends_at ?? null;
    s.queue = s.queue.filter((q) => q !== ev.person);
    if (s.go_around && s.go_around.includes(ev.person)) {
      s.go_around = s.go_around.slice(s.go_around.indexOf(ev.person) + 1);
    }
  },
  turn_ended(s) { s.speaker = null; s.turn_ends = null; },
  queue_moved(s, ev) {
    s.queue = s.queue.filter((q) => q !== ev.person);
    s.queue.splice(ev.position - 1, 0, ev.person);
  },
  queue_mode_set(s, ev) {
    s.queue_mode = ev.mode;
    if (Array.isArray(ev.queue)) s.queue = [...ev.queue];
  },
  go_around_started(s, ev) { s.go_around = [...ev.order]; },
  go_around_ended(s) { s.go_around = null; },

  breakouts_opened(s, ev) {
    s.breakouts = "open";
    s.rooms = ev.rooms.map((r) => [...r]);
    s.breakouts_ends = ev.ends_at;
    s.round = ev.round || 0;
    s.my_room = myRoomFrom(s, s.rooms);
    s.room_members = s.my_room ? [...s.rooms[s.my_room - 1]] : [];
    s.broadcasts = [];
  },
  breakout_moved(s, ev) {
    if (s.breakouts !== "open") return;     // a draft move: staff only
    for (const r of s.rooms) { const i = r.indexOf(ev.person); if (i >= 0) r.splice(i, 1); }
    while (s.rooms.length < ev.room) s.rooms.push([]);
    s.rooms[ev.room - 1].push(ev.person);
    if (ev.person === s.me) s.my_room = ev.room;
    if (s.my_room) s.room_members = [...s.rooms[s.my_room - 1]];
  },
  breakouts_warning(s, ev) { s.breakouts_ends = ev.ends_at; },
  breakouts_broadcast(s, ev, at, seq) { s.broadcasts.push({ text: ev.text, at, seq }); },
  breakouts_closed(s) {
    s.breakouts = "none"; s.rooms = []; s.my_room = null; s.room_members = []; s.breakouts_ends = null;
    s.round = 0; s.broadcasts = [];    // they were the round's: the view keeps them while it is open
  },
  help_requested(s, ev, at) {
    if (ev.person !== s.me) return;
    if (!s.my_help.some((h) => h.help_id === ev.help_id)) {
      s.my_help.push({ help_id: ev.help_id, person: ev.person, room: ev.room, text: ev.text || "", at,
                       acknowledged_by: null, round: ev.round || 0 });
    }
  },
  help_acknowledged(s, ev) {
    const h = s.my_help.find((x) => x.help_id === ev.help_id);
    if (h) h.acknowledged_by = ev.by;
  },

  poll_opened(s, ev) {
    let p = findPoll(s, ev.id);
    if (!p) {
      p = { id: ev.id, question: ev.question, kind: ev.kind, options: [...(ev.options || [])],
        min: ev.min ?? null, max: ev.max ?? null, anonymous: !!ev.anonymous, state: "open", mine: [], results: null, total: null };
      s.polls.push(p);
    }
    p.state = "open";
  },
  vote_cast(s, ev) {
    const p = findPoll(s, ev.id);
    if (p && ev.person === s.me) p.mine = [...ev.keys];
  },
  poll_closed(s, ev) { const p = findPoll(s, ev.id); if (p) p.state = "closed"; },
  poll_shared(s, ev) {
    const p = findPoll(s, ev.id);
    if (p) { p.results = { ...ev.counts }; p.total = ev.total; }
  },

  // the satisfaction survey: its wording comes in the event; a participant's own answer
  // comes back cleared (views.for_participants), so the view holds only that they answered
  survey_opened(s, ev) {
    if (!s.survey) {
      s.survey = { items: [...ev.items], low: ev.low, high: ev.high, comment: ev.comment,
                   state: "open", answered: false };
    }
    s.survey.state = "open";
  },
  survey_answered(s, ev) { if (s.survey && ev.person === s.me) s.survey.answered = true; },
  survey_closed(s) { if (s.survey) s.survey.state = "closed"; },

  timer_started(s, ev, at) {
    s.timers[ev.id] = { id: ev.id, label: ev.label, seconds: ev.seconds, state: "running",
      ends_at: ev.ends_at, remaining: ev.seconds, warned: ev.ends_at - at <= WARNING_BEFORE, ended_at: null };
  },
  timer_paused(s, ev) {
    const t = s.timers[ev.id]; if (!t) return;
    t.state = "paused"; t.remaining = ev.remaining; t.ends_at = null;
  },
  timer_resumed(s, ev, at) {
    const t = s.timers[ev.id]; if (!t) return;
    t.state = "running"; t.ends_at = ev.ends_at; t.warned = ev.ends_at - at <= WARNING_BEFORE;
  },
  timer_extended(s, ev, at) {
    const t = s.timers[ev.id]; if (!t) return;
    t.seconds += ev.seconds;
    if (t.state === "running") { t.ends_at += ev.seconds; t.warned = t.ends_at - at <= WARNING_BEFORE; }
    else t.remaining += ev.seconds;
  },
  timer_cancelled(s, ev, at) {
    const t = s.timers[ev.id]; if (!t) return;
    if (t.state === "running") t.remaining = Math.max(0, t.ends_at - at);
    t.state = "cancelled"; t.ends_at = null; t.ended_at = at;
  },
  timer_warning(s, ev) { const t = s.timers[ev.id]; if (t) t.warned = true; },
  timer_expired(s, ev, at) {
    const t = s.timers[ev.id]; if (!t) return;
    t.state = "expired"; t.remaining = 0; t.ends_at = null; t.ended_at = at;
  },
  agenda_advanced(s, ev, at) { s.agenda_index = ev.index; s.agenda_started = at; },

  chat_posted(s, ev, at, seq) {
    // round and seq as the server's view keeps them: a fresh view judges each line by them
    s.chat.push({ by: ev.by, name: ev.name, to: ev.to, text: ev.text, room: ev.room || 0, at,
                  round: ev.round || 0, seq });
    if (s.chat.length > CHAT_KEPT) s.chat.splice(0, s.chat.length - CHAT_KEPT);
    if (ev.name) s.names[ev.by] = ev.name;
  },
};

// Not in the room (waiting, left, removed, denied, the session over), one sees only
// one's own status and own calls for help, as evolve_view's `outside`; a dropped
// participant keeps the picture for the resume to fold on top of.
const INSIDE = ["present", "dropped"];
const OUTSIDE = () => ({
  present: [], queue: [], queue_mode: "fifo", speaker: null, turn_ends: null, go_around: null,
  breakouts: "none", my_room: null, round: 0, room_members: [], rooms: [], breakouts_ends: null,
  broadcasts: [], polls: [], timers: {}, agenda: [], agenda_index: null, agenda_started: null,
  chat: [], survey: null,
});

// Folds one event frame into the state; returns false for a type it does not know
// (a newer server), which it skips rather than failing the whole page.
export function apply(s, frame) {
  const ev = frame.ev;
  const f = FOLD[ev.type];
  s.seq = frame.seq;
  if (!f) return false;
  f(s, ev, frame.at, frame.seq);
  if (!INSIDE.includes(s.status)) Object.assign(s, OUTSIDE());
  return true;
}
