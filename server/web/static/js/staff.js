// The staff voice page: the same voice card, with listening in to a breakout room.
import { mountVoice } from "./voice_ui.js";

document.documentElement.dataset.started = "1";    // the page's code runs (js/loading.js)

const m = /[#&]t=([^&]+)/.exec(location.hash);
const token = m ? decodeURIComponent(m[1]) : null;
// the link's token is not left in the address bar or the history
if (m) history.replaceState(null, "", location.pathname);
const listen = () => {
  const n = parseInt(document.getElementById("listen-room").value, 10);
  return Number.isInteger(n) && n > 0 ? n : null;
};
if (token) mountVoice({ credential: () => token, room: null, view: () => null, listen });
else document.getElementById("voice-state").textContent = "Open this page from the staff voice link in the console.";
