// Runs stories through the page's machine (server/web/static/js/session.js) and prints what it
// said at each step, in the shape tests/test_link_js.py gives protocol/session.py's answers.
// stdin: {"module": path, "stories": [[op, ...], ...]}; an op is [name, now, ...args].
// stdout: {"tables": {...}, "traces": [[step, ...], ...]}.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const input = JSON.parse(readFileSync(0, "utf8"));
const m = await import(pathToFileURL(input.module).href);

function said(o) {
  switch (o.t) {
    case "send": return o.frame.t === "hello" ? `hello resume=${o.frame.resume}` : `send ${o.frame.t} ${o.frame.id}`;
    case "deliver": return `${o.repeat ? "repeat" : "deliver"} ${o.frame.t}${o.frame.t === "event" ? " " + o.frame.seq : ""}`;
    case "answered": return `answered ${o.id}`;
    case "ponged": return `ponged ${o.id}`;
    case "refused": return `refused ${o.error.code}`;
    case "drop": return `drop ${o.why}`;
    case "unanswered": return `unanswered ${o.id}`;
  }
  return `? ${o.t}`;
}

function decision(d) {
  if (!d) return null;
  return d.t === "final" ? ["final", d.kind, d.message] : ["reconnect", Math.round(d.at * 1e6) / 1e6, d.why];
}

const traces = input.stories.map((story) => {
  const s = new m.Session("tok", { rand: () => 0.5 });
  return story.map(([op, now, ...args]) => {
    let out = [];
    if (op === "opening") s.opening(now);
    else if (op === "connected") out = [{ t: "send", frame: s.connected(now, args[0]) }];
    else if (op === "receive") out = s.receive(JSON.parse(args[0]), now);
    else if (op === "closed") out = s.closed(args[0], args[1], now);
    else if (op === "failed") s.failed(now);
    else if (op === "tick") out = s.tick(now);
    else if (op === "command") out = s.command({ do: "raise_hand" }, args[0], now);
    else if (op === "ping") out = [s.ping(now).send];
    else if (op === "finish") s.finish(args[0]);
    return { state: s.state, position: s.position, decision: decision(s.decision), out: out.map(said) };
  });
});

const tables = { STATES: m.STATES, FINAL_REASONS: m.FINAL_REASONS, REPLACED: m.REPLACED,
  FINAL_REFUSALS: m.FINAL_REFUSALS, RETRY_ONCE: m.RETRY_ONCE, POLICY: m.POLICY };
process.stdout.write(JSON.stringify({ tables, traces }));
