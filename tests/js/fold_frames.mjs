// Folds the frames each participant was sent with the page's own fold (mirror.js), as
// the page does (link.js's rule for repeats: an event at or below the known seq is
// dropped), and prints the page's picture at each requested point.
// stdin: {"mirror": path, "frames": {person: [frame, ...]}, "at": [[person, count], ...]}
// stdout: [picture, ...], one per point, in order.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const input = JSON.parse(readFileSync(0, "utf8"));
const m = await import(pathToFileURL(input.mirror).href);
const folds = {};
const out = [];
for (const [person, count] of input.at) {
  const f = folds[person] || (folds[person] = { s: null, last: null, n: 0 });
  const frames = input.frames[person];
  for (; f.n < count; f.n++) {
    const fr = frames[f.n];
    if (fr.t === "welcome") {
      if (!fr.resumed && fr.state) f.s = m.fromView(fr.state, fr.you);
      if (!fr.resumed) f.last = fr.seq;
    } else if (fr.t === "event") {
      if (f.last !== null && fr.seq <= f.last) continue;
      f.last = fr.seq;
      if (f.s) m.apply(f.s, fr);
    }
  }
  out.push(f.s === null ? null : structuredClone(f.s));
}
process.stdout.write(JSON.stringify(out));
