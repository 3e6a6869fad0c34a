// Polls and questionnaires: one form per poll, built once and then only
// updated, so a person choosing an answer is never interrupted by a redraw.

import { el, setText, show } from "./dom.js";
import { capital } from "./speech.js";

// A questionnaire's intro and items, as the server words them in its question
// ("… the following? (1) …; (2) …"): the wording is the engine's alone.
function questionnaireParts(p) {
  const m = /^(.*?)\s*\(1\)\s*(.+?);?\s*\(2\)\s*(.+)$/.exec(p.question || "");
  if (m) return [m[1], [m[2].replace(/;\s*$/, ""), m[3]]];
  return [p.question, []];
}

function radios(name, options, labelledBy) {
  const group = el("div", { class: "choices", role: "radiogroup", "aria-labelledby": labelledBy });
  options.forEach(([value, label], i) => {
    const id = `${name}-${i}`;
    group.append(el("div", { class: "choice" },
      el("input", { type: "radio", name, id, value: String(value) }),
      el("label", { for: id, text: label })));
  });
  return group;
}

function buildForm(p) {
  const base = `poll-${p.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const form = el("form", { class: "poll", "data-poll": p.id, "aria-labelledby": `${base}-q` });
  const q = p.kind === "phq2" || p.kind === "gad2" ? questionnaireParts(p)[0] : p.question;
  form.append(el("p", { class: "question", id: `${base}-q`, text: q }));
  if (p.anonymous) form.append(el("p", { class: "small", text: "Anonymous: nobody, not even the facilitators, can see your answer." }));
  const body = el("div", { class: "poll-body" });
  if (p.kind === "single") {
    body.append(radios(`${base}-c`, p.options.map((o) => [o, o]), `${base}-q`));
  } else if (p.kind === "multi") {
    const group = el("fieldset", { class: "choices" }, el("legend", { class: "visually-hidden", text: "Choose all that apply" }));
    p.options.forEach((o, i) => {
      const id = `${base}-m${i}`;
      group.append(el("div", { class: "choice" },
        el("input", { type: "checkbox", name: `${base}-m`, id, value: o }),
        el("label", { for: id, text: o })));
    });
    body.append(el("p", { class: "small", text: "Choose all that apply." }), group);
  } else if (p.kind === "scale") {
    const opts = [];
    for (let v = p.min; v <= p.max; v++) opts.push([v, String(v)]);
    const g = radios(`${base}-s`, opts, `${base}-q`);
    g.classList.add("scale");
    body.append(g, el("p", { class: "small scale-ends", "aria-hidden": "true" },
      el("span", { text: `${p.min}` }), el("span", { text: `${p.max}` })));
  } else {
    questionnaireParts(p)[1].forEach((item, i) => {
      const id = `${base}-i${i}`;
      body.append(el("p", { class: "item", id, text: `${i + 1}. ${capital(item)}` }),
        radios(`${base}-a${i}`, p.options.map((o, k) => [k, o]), id));
    });
  }
  form.append(body);
  form.append(el("div", { class: "row" }, el("button", { type: "submit", class: "primary", text: "Send my answer" })));
  form.append(el("p", { class: "poll-status", role: "status" }));
  form.append(el("div", { class: "results", hidden: true }));
  return form;
}

// The vote command for what the form holds, or a message saying what is missing.
function readVote(form, p) {
  const checked = (name) => form.querySelector(`input[name="${name}"]:checked`);
  const base = `poll-${p.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  if (p.kind === "single") {
    const c = checked(`${base}-c`);
    return c ? { cmd: { do: "vote", id: p.id, choice: c.value }, keys: [c.value] } : "Please choose an answer.";
  }
  if (p.kind === "multi") {
    const cs = [...form.querySelectorAll(`input[name="${base}-m"]:checked`)].map((x) => x.value);
    return cs.length ? { cmd: { do: "vote", id: p.id, choices: cs }, keys: cs } : "Please choose at least one answer.";
  }
  if (p.kind === "scale") {
    const c = checked(`${base}-s`);
    return c ? { cmd: { do: "vote", id: p.id, value: Number(c.value) }, keys: [c.value] } : "Please choose a number.";
  }
  const a = [checked(`${base}-a0`), checked(`${base}-a1`)];
  if (!a[0] || !a[1]) return "Please answer both questions.";
  const answers = a.map((x) => Number(x.value));
  return { cmd: { do: "vote", id: p.id, answers }, keys: [String(answers[0] + answers[1])] };
}

function describeMine(p) {
  if (!p.mine || !p.mine.length) return "";
  if (p.kind === "phq2" || p.kind === "gad2") return "Thank you, your answers were sent to the facilitators.";
  if (p.anonymous) return "Your anonymous answer is in. Anonymous answers cannot be changed.";
  const what = p.mine.join(", ");
  return p.state === "open" ? `Your answer: ${what}. You can change it while the question is open.` : `Your answer: ${what}.`;
}

function resultRows(p) {
  let keys;
  if (p.kind === "scale") {
    keys = [];
    for (let v = p.min; v <= p.max; v++) keys.push(String(v));
  } else if (p.kind === "single" || p.kind === "multi") {
    keys = [...p.options];
  } else {
    keys = Object.keys(p.results).sort((a, b) => Number(a) - Number(b));
  }
  const total = p.total || 0;
  return keys.map((k) => [k, p.results[k] || 0, total]);
}

function renderResults(box, p) {
  const sig = JSON.stringify([p.results, p.total]);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  box.replaceChildren();
  const hid = `${box.closest("form").dataset.poll}-res`;
  box.append(el("h4", { id: hid, text: `Shared results (${p.total} ${p.total === 1 ? "answer" : "answers"})` }));
  const list = el("ul", { class: "bars", "aria-labelledby": hid });
  for (const [k, n, total] of resultRows(p)) {
    const pct = total ? Math.round((100 * n) / total) : 0;
    list.append(el("li", {},
      el("span", { class: "bar-label", text: k }),
      el("progress", { max: String(Math.max(total, 1)), value: String(n), "aria-label": `${k}: ${n} of ${total}` }),
      el("span", { class: "bar-n", text: `${n} (${pct}%)` })));
  }
  box.append(list);
}

// A form built for a poll already answered shows the answer as chosen.
function markMine(form, p) {
  if (!p.mine || !p.mine.length || p.kind === "phq2" || p.kind === "gad2") return;
  for (const input of form.querySelectorAll("input")) {
    if (p.mine.includes(input.value)) input.checked = true;
  }
}

export class Polls {
  constructor(container, card, send, notify, getState) {
    this.getState = getState;
    this.container = container;
    this.card = card;
    this.send = send;        // (cmd) -> Promise<{ok, code, message}>
    this.notify = notify;
    this.forms = new Map();
    this.sent = new Map();   // poll id -> keys of an anonymous ballot (the server keeps no voter)
    this.told = new Set();   // polls already announced as new: never twice (e.g. when results are shared)
  }

  reset() {
    for (const f of this.forms.values()) f.remove();
    this.forms.clear();
  }

  render(state) {
    // open questions, and closed ones whose results were shared; the rest are done with
    // ...and closed ones this person answered, so their answer stays in view until results come
    const polls = state.polls.filter((p) => p.state === "open" || p.results || (p.mine && p.mine.length) || this.sent.has(p.id));
    show(this.card, polls.length > 0);
    const seen = new Set();
    for (const p of polls) {
      seen.add(p.id);
      let form = this.forms.get(p.id);
      if (!form) {
        form = buildForm(p);
        form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(form, p.id); });
        this.forms.set(p.id, form);
        this.container.prepend(form);
        markMine(form, p);
        if (p.state === "open" && !this.told.has(p.id)) {
          this.notify(`A new question: ${p.kind === "phq2" || p.kind === "gad2" ? "a short check-in questionnaire" : p.question}`);
        }
      }
      this.told.add(p.id);
      this.update(form, p);
    }
    for (const [id, f] of this.forms) if (!seen.has(id)) { f.remove(); this.forms.delete(id); }
  }

  update(form, p) {
    if (p.anonymous && this.sent.has(p.id) && !(p.mine && p.mine.length)) p.mine = this.sent.get(p.id);
    const open = p.state === "open";
    const final = p.anonymous && p.mine && p.mine.length;
    const locked = !open || final;
    form.classList.toggle("closed", !open);
    for (const input of form.querySelectorAll("input")) input.disabled = !!locked;
    const btn = form.querySelector("button[type=submit]");
    show(btn, !locked);
    setText(btn, p.mine && p.mine.length ? "Change my answer" : "Send my answer");
    let status = describeMine(p);
    if (!open) status = `${status} ${p.results ? "" : "This question is closed."}`.trim();
    setText(form.querySelector(".poll-status"), status);
    const box = form.querySelector(".results");
    show(box, !!p.results);
    if (p.results) renderResults(box, p);
  }

  async submit(form, id) {
    const p = this.getState().polls.find((x) => x.id === id);
    if (!p) return;
    const v = readVote(form, p);
    const status = form.querySelector(".poll-status");
    if (typeof v === "string") { setText(status, v); return; }
    setText(status, "Sending…");
    const r = await this.send(v.cmd);
    if (r.ok) {
      if (p.anonymous) this.sent.set(p.id, v.keys);
      if (p.anonymous || p.kind === "phq2" || p.kind === "gad2") p.mine = v.keys;
      this.onChange && this.onChange();
    } else if (r.code === "conflict" && p.anonymous) {
      this.sent.set(p.id, v.keys);
      p.mine = v.keys;
      setText(status, "Your anonymous answer was already counted.");
    } else {
      setText(status, r.message ? `Not sent: ${r.message}` : "Not sent. Please try again.");
    }
  }
}
