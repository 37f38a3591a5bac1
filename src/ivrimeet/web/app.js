// ivrimeet's page: asks for the API token once, then routes between the list and a meeting.
//
//   #/                  upload + meetings list
//   #/meetings/<id>     one meeting
//
// Everything goes through the public /api endpoints with the bearer token, which is
// kept in sessionStorage (this tab only). No request leaves this origin.

import * as api from "./api.js";
import { showMessage } from "./dom.js";
import { showMeetings } from "./meetings.js";
import { showMeeting } from "./meeting.js";
import { setUpUpload } from "./upload.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["token-view", "list-view", "meeting-view"];

let stopCurrent = () => {};
let meetingsList = null;

function showView(name, focusId) {
  for (const view of VIEWS) $(view).hidden = view !== name;
  $("forget-token").hidden = !api.token.get();
  const target = focusId && $(focusId);
  // Move focus to the new view's heading so screen readers announce the change.
  if (target && document.activeElement !== document.body) target.focus();
}

function route() {
  stopCurrent();
  stopCurrent = () => {};
  meetingsList = null;
  const match = /^#\/meetings\/([^/?#]+)$/.exec(window.location.hash);
  if (match) {
    showView("meeting-view", "meeting-title");
    stopCurrent = showMeeting(decodeURIComponent(match[1]), {
      onDeleted: () => {
        window.location.hash = "#/";
      },
    });
    return;
  }
  document.title = "Meetings · ivrimeet";
  showView("list-view", "list-heading");
  meetingsList = showMeetings();
  stopCurrent = () => meetingsList?.stop();
}

/** Ask for the token; `reason` explains why when it is not the first visit. */
function askForToken(reason = "") {
  stopCurrent();
  stopCurrent = () => {};
  document.title = "Sign in · ivrimeet";
  showView("token-view");
  showMessage($("token-error"), reason, "error");
  $("token-input").value = "";
  $("token-input").focus();
}

async function tokenWorks() {
  try {
    await api.listMeetings({ limit: 1 });
    return true;
  } catch (err) {
    if (err.status === 401) return false;
    throw err;
  }
}

function maxUploadBytes() {
  const value = Number(document.querySelector('meta[name="ivrimeet-max-upload-bytes"]')?.content);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

async function boot() {
  let asking = false;
  api.onUnauthorized(() => {
    if (asking) return;
    api.token.clear();
    askForToken("The server did not accept the API token. Enter it again.");
  });

  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("token-input").value.trim();
    if (!value) {
      showMessage($("token-error"), "Enter the API token.", "error");
      return;
    }
    api.token.set(value);
    asking = true;
    const submit = $("token-submit");
    submit.disabled = true;
    try {
      if (await tokenWorks()) {
        showMessage($("token-error"), "");
        route();
      } else {
        api.token.clear();
        showMessage($("token-error"), "That token was not accepted. Check it and try again.", "error");
        $("token-input").select();
      }
    } catch (err) {
      showMessage($("token-error"), err.message, "error");
    } finally {
      asking = false;
      submit.disabled = false;
    }
  });

  $("forget-token").addEventListener("click", () => {
    api.token.clear();
    askForToken();
  });

  setUpUpload({
    maxUploadBytes: maxUploadBytes(),
    onUploaded: (meeting) => meetingsList?.added(meeting),
  });
  window.addEventListener("hashchange", () => {
    if (!$("token-view").hidden) return;
    route();
  });

  // A server without IVRIMEET_API_TOKEN (127.0.0.1 only) needs no token: try first.
  asking = true;
  let works = false;
  try {
    works = await tokenWorks();
  } catch (err) {
    asking = false;
    route();
    showMessage($("meetings-error"), err.message, "error");
    return;
  }
  asking = false;
  if (works) {
    route();
    return;
  }
  const hadToken = Boolean(api.token.get());
  api.token.clear();
  askForToken(hadToken ? "The saved token was not accepted. Enter it again." : "");
}

boot();
