// The speaker cards of a meeting: sample playback in place, inline rename, suggested names.

import { h, announce } from "./dom.js";
import { duration, percent, clock } from "./format.js";
import { displayName, prettyLabel } from "./colors.js";

/**
 * Render one card per speaker into `list`.
 *
 * `actions.rename(speaker, name)` saves a name (resolves when saved, rejects with an
 * ApiError); `actions.snippetUrl(speaker)` gives a playable URL for the speaker's sample
 * (`{fresh: true}` after a failed play); `actions.onPlay(audio)` is told when a sample starts, so the page
 * can pause everything else.
 */
export function renderSpeakers(list, meeting, { colors, total, actions }) {
  list.replaceChildren(
    ...meeting.speakers.map((speaker) => speakerCard(speaker, colors.get(speaker.id), total, actions)),
  );
}

function speakerCard(speaker, color, total, actions) {
  const name = displayName(speaker);
  const nameId = `speaker-name-${speaker.id}`;
  const inputId = `speaker-rename-${speaker.id}`;

  const renameButton = h(
    "button",
    { type: "button", class: "rename-button secondary small" },
    "Rename",
    h("span", { class: "visually-hidden" }, ` ${name}`),
  );
  const input = h("input", {
    id: inputId,
    name: "name",
    required: true,
    maxLength: 200,
    autocomplete: "off",
    spellcheck: false,
    value: speaker.name || "",
    placeholder: speaker.suggested_name || "Name",
  });
  const formError = h("p", { class: "message", role: "alert", hidden: true, dataset: { kind: "error" } });
  const saveButton = h("button", { type: "submit" }, "Save");
  const cancelButton = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h(
    "form",
    { class: "rename-form", hidden: true, "aria-label": `Rename ${name}` },
    h("label", { for: inputId }, `Name for ${name}`),
    h("div", { class: "row" }, input, saveButton, cancelButton),
    h(
      "p",
      { class: "hint" },
      "Naming a speaker teaches ivrimeet this voice, so later meetings suggest the name.",
    ),
    formError,
  );

  const card = h(
    "li",
    { class: `speaker ${color}`, dataset: { speakerId: speaker.id } },
    h(
      "div",
      { class: "speaker-head" },
      h("span", { class: "swatch", "aria-hidden": "true" }),
      h(
        "div",
        { class: "speaker-title" },
        h("h3", { class: "speaker-name", id: nameId }, name),
        speaker.name ? h("span", { class: "speaker-label" }, prettyLabel(speaker.label)) : null,
      ),
      renameButton,
    ),
    h(
      "p",
      { class: "speaker-stats" },
      `Spoke ${duration(speaker.seconds)}`,
      total ? ` (${percent(speaker.seconds, total)} of the meeting)` : "",
    ),
    suggestion(speaker, actions),
    h("div", { class: "speaker-actions" }, snippetPlayer(speaker, name, actions)),
    form,
  );

  const open = () => {
    form.hidden = false;
    renameButton.hidden = true;
    formError.hidden = true;
    input.value = speaker.name || speaker.suggested_name || "";
    input.focus();
    input.select();
  };
  const close = () => {
    form.hidden = true;
    renameButton.hidden = false;
    renameButton.focus();
  };
  renameButton.addEventListener("click", open);
  cancelButton.addEventListener("click", close);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      formError.textContent = "Enter a name.";
      formError.hidden = false;
      return;
    }
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    try {
      await actions.rename(speaker, value);
    } catch (err) {
      formError.textContent = err.message;
      formError.hidden = false;
      saveButton.disabled = false;
      saveButton.textContent = "Save";
    }
  });
  return card;
}

function suggestion(speaker, actions) {
  if (!speaker.suggested_name || speaker.name === speaker.suggested_name) return null;
  const use = h(
    "button",
    { type: "button", class: "link-button" },
    `Use “${speaker.suggested_name}”`,
  );
  use.addEventListener("click", async () => {
    use.disabled = true;
    try {
      await actions.rename(speaker, speaker.suggested_name);
    } catch (err) {
      use.disabled = false;
      announce(err.message);
    }
  });
  return h(
    "p",
    { class: "suggestion" },
    h("span", { class: "badge" }, "Recognised voice"),
    " Sounds like ",
    h("strong", {}, speaker.suggested_name),
    ". ",
    use,
  );
}

function snippetPlayer(speaker, name, actions) {
  if (!speaker.snippet_url) {
    return h("p", { class: "hint" }, "No sample: this speaker has no clean stretch of speech.");
  }
  const audio = h("audio", { class: "snippet", preload: "none" });
  audio.dataset.speakerId = speaker.id;
  const icon = h("span", { class: "icon", "aria-hidden": "true" }, "▶");
  const text = h("span", {}, "Play sample");
  const time = h("span", { class: "snippet-time", "aria-hidden": "true" }, "");
  const button = h(
    "button",
    { type: "button", class: "snippet-button", "aria-pressed": "false" },
    icon,
    text,
    h("span", { class: "visually-hidden" }, ` of ${name}`),
  );
  let loaded = false;
  let retried = false;

  const showState = () => {
    const playing = !audio.paused && !audio.ended;
    button.setAttribute("aria-pressed", String(playing));
    icon.textContent = playing ? "❚❚" : "▶";
    text.textContent = playing ? "Pause sample" : "Play sample";
    const length = Number.isFinite(audio.duration) ? audio.duration : null;
    time.textContent = length ? `${clock(audio.currentTime)} / ${clock(length)}` : "";
  };
  const load = async (fresh = false) => {
    audio.src = await actions.snippetUrl(speaker, { fresh });
    loaded = true;
  };
  button.addEventListener("click", async () => {
    if (!audio.paused && !audio.ended) {
      audio.pause();
      return;
    }
    try {
      if (!loaded) await load();
      actions.onPlay(audio);
      await audio.play();
    } catch (err) {
      if (err.name !== "AbortError") announce(`Could not play the sample of ${name}: ${err.message}`);
    }
  });
  audio.addEventListener("error", async () => {
    // A signed URL may have expired while the page sat open: fetch a fresh one, once.
    if (retried || !loaded) {
      announce(`The sample of ${name} could not be played.`);
      return;
    }
    retried = true;
    try {
      await load(true);
      await audio.play();
    } catch {
      announce(`The sample of ${name} could not be played.`);
    }
  });
  for (const type of ["play", "pause", "ended", "timeupdate", "loadedmetadata"]) {
    audio.addEventListener(type, showState);
  }
  return h("div", { class: "snippet-player" }, button, time, audio);
}
