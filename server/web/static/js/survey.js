// The end-of-session satisfaction survey: a rating from 1 to 5 per item and an optional
// comment. Its wording is the server's (it comes in survey_opened and in the view), never
// a copy here. The form is built once and then only updated, so nobody choosing a rating
// is interrupted by a redraw. Once sent, the page shows only that they answered: the
// answers go to the facilitators, and the view never brings them back.

import { el, setText, show } from "./dom.js";

const LOWEST = 1;
const HIGHEST = 5;

function buildForm(sv) {
  const form = el("form", { class: "poll survey", "aria-labelledby": "survey-intro" });
  form.append(el("p", { class: "question", id: "survey-intro",
    text: "How was today's group? Your answers go to the facilitators only." }));
  form.append(el("p", { class: "small", id: "survey-ends", text: `${LOWEST} = ${sv.low}, ${HIGHEST} = ${sv.high}` }));
  sv.items.forEach((item, i) => {
    const name = `survey-r${i}`;
    const group = el("fieldset", { class: "choices scale", "aria-describedby": "survey-ends" },
      el("legend", { class: "item", text: `${i + 1}. ${item}` }));
    for (let v = LOWEST; v <= HIGHEST; v++) {
      const id = `${name}-${v}`;
      const end = v === LOWEST ? sv.low : v === HIGHEST ? sv.high : "";
      group.append(el("div", { class: "choice" },
        el("input", { type: "radio", name, id, value: String(v) }),
        el("label", { for: id }, String(v), end ? el("span", { class: "visually-hidden", text: ` (${end})` }) : null)));
    }
    form.append(group);
  });
  form.append(el("label", { for: "survey-comment", class: "item", text: sv.comment }));
  form.append(el("textarea", { id: "survey-comment", rows: "3", maxlength: "1000" }));
  form.append(el("div", { class: "row" }, el("button", { type: "submit", class: "primary", text: "Send my answers" })));
  form.append(el("p", { class: "poll-status", role: "status" }));
  return form;
}

export class Survey {
  constructor(container, card, send, notify) {
    this.container = container;
    this.card = card;
    this.send = send;          // (cmd) -> Promise<{ok, code, message}>
    this.notify = notify;
    this.form = null;
    this.thanks = el("p", { class: "poll-status", role: "status" });
    this.container.append(this.thanks);
  }

  render(state) {
    const sv = state.survey;
    const visible = !!sv && (sv.state === "open" || sv.answered);
    show(this.card, visible);
    if (!sv) { this.drop(); setText(this.thanks, ""); return; }
    if (sv.answered) {
      this.drop();
      setText(this.thanks, "Thank you: your answers were sent to the facilitators.");
      return;
    }
    setText(this.thanks, sv.state === "open" ? "" : "The survey is closed.");
    if (sv.state !== "open") { this.drop(); return; }
    if (!this.form) {
      this.form = buildForm(sv);
      this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(sv); });
      this.form.addEventListener("change", () => setText(this.form.querySelector(".poll-status"), ""));
      this.container.prepend(this.form);
      this.notify("A short survey about today's group.");
    }
  }

  drop() {
    if (this.form) { this.form.remove(); this.form = null; }
  }

  async submit(sv) {
    const form = this.form;
    if (!form) return;
    const status = form.querySelector(".poll-status");
    const ratings = [];
    for (let i = 0; i < sv.items.length; i++) {
      const c = form.querySelector(`input[name="survey-r${i}"]:checked`);
      if (!c) { setText(status, `Please rate item ${i + 1}.`); form.querySelector(`input[name="survey-r${i}"]`).focus(); return; }
      ratings.push(Number(c.value));
    }
    const comment = form.querySelector("#survey-comment").value.trim();
    setText(status, "Sending…");
    const r = await this.send({ do: "survey_answer", ratings, comment });
    if (r.ok || r.code === "conflict") {
      // conflict: answered already (another tab); the view's survey_answered confirms it
      if (r.ok) sv.answered = true;
      this.onChange && this.onChange();
    } else {
      setText(status, r.message ? `Not sent: ${r.message}` : "Not sent. Please try again.");
    }
  }
}
