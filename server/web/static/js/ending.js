// The words of the last stage: why this page is no longer in the group (the session
// closed, a facilitator removed or did not admit them, they left, or the link
// cannot be used), said kindly and with what to do next.

import { capital } from "./speech.js";

// from the participant's own view: the session closed, or their status ended it
export function endWords(state, ending) {
  let title = "The session has ended";
  let message = "Thank you for being here today. You can close this page.";
  if (ending) ({ title, message } = ending);
  else if (state && state.phase === "closed") { /* the session ended: the default words */ }
  else if (state && state.status === "denied") {
    title = "You were not admitted";
    message = "A facilitator did not admit you to this session. If you think this is a mistake, please contact your program.";
  } else if (state && state.status === "removed") {
    title = "You are no longer in this session";
    message = "A facilitator has removed you from this session. Please contact your program if you need support.";
  } else if (state && state.status === "left") {
    title = "You have left the session";
    message = "Take care. You can close this page.";
  }
  return { title, message };
}

// from the link's final close reason; `onDevice`: the page said hello with its device credential
export function finalWords(kind, message, onDevice) {
  const texts = {
    ended: ["The session has ended", "Thank you for being here today. You can close this page."],
    left: ["You have left the session", "Take care. You can close this page."],
    removed: ["You are no longer in this session", "A facilitator has removed you from this session. Please contact your program if you need support."],
    denied: ["You were not admitted", "A facilitator did not admit you to this session. If you think this is a mistake, please contact your program."],
    unauthorized: ["This link cannot be used", "The link is not valid or has expired. Please ask your facilitator for a new one."],
    forbidden: ["You cannot join this session", message ? capital(message) + "." : "Please contact your program."],
    version: ["Please reload this page", "The session server was updated. Reloading the page will fix this."],
    replaced: ["This session is open somewhere else", "You joined from another window or device, so this page stopped. You can continue here instead."],
    "in-use": ["This link is already open", "Your link is in use in another tab or on another device. Close it there, then try again here."],
    elsewhere: ["This session continues elsewhere", "Your link was opened in another tab or on another device, so this page can no longer join. Use that one, or open your link again here."],
  };
  if (kind === "unauthorized" && onDevice) {
    return ["Please open your link again", "This page’s access to the session has timed out. Open the join link your facilitator sent you to come back."];
  }
  return texts[kind] || ["Disconnected", message || ""];
}
