// The upload card: drag-and-drop or file picker, progress with speed and time left, cancel.

import * as api from "./api.js";
import { announce, showMessage } from "./dom.js";
import * as fmt from "./format.js";
import { meetingTitle } from "./status.js";

const SPEED_WINDOW_MS = 3000;

const $ = (id) => document.getElementById(id);

/** Bytes per second over the last few seconds of `samples` ([{t, loaded}], oldest first). */
export function recentSpeed(samples) {
  if (samples.length < 2) return NaN;
  const last = samples.at(-1);
  const first = samples.find((s) => last.t - s.t <= SPEED_WINDOW_MS) ?? samples[0];
  const seconds = (last.t - first.t) / 1000;
  return seconds > 0 ? (last.loaded - first.loaded) / seconds : NaN;
}

/**
 * Wire up the upload card. `maxUploadBytes` (0 = unknown) lets a too-large file be
 * refused before any byte is sent; `onUploaded(meeting)` runs after a 201.
 */
export function setUpUpload({ maxUploadBytes, onUploaded }) {
  const form = $("upload-form");
  const zone = $("drop-zone");
  const input = $("file-input");
  const message = $("upload-message");
  let current = null;

  $("choose-file").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files?.length) start(input.files[0]);
  });

  // Dropping a file anywhere else must not navigate away from the page.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (event.dataTransfer?.types?.includes("Files")) event.preventDefault();
    });
  }
  let depth = 0;
  zone.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer?.types?.includes("Files")) return;
    depth += 1;
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  zone.addEventListener("dragover", (event) => {
    if (!event.dataTransfer?.types?.includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = current ? "none" : "copy";
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    const files = event.dataTransfer?.files;
    if (!files?.length) return;
    if (files.length > 1) {
      showMessage(message, "Drop one recording at a time.", "error");
      return;
    }
    start(files[0]);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  $("upload-cancel").addEventListener("click", () => current?.cancel());
  window.addEventListener("beforeunload", (event) => {
    if (current) event.preventDefault();
  });

  function start(file) {
    if (current) return;
    if (file.size === 0) {
      showMessage(message, `“${file.name}” is empty: choose a recording with sound in it.`, "error");
      return;
    }
    if (maxUploadBytes && file.size > maxUploadBytes) {
      showMessage(message, api.plainMessage(413, "", { maxUploadBytes }), "error");
      input.value = "";
      return;
    }
    const title = $("title-input").value.trim() || file.name.replace(/\.[^.]+$/, "");
    const samples = [{ t: performance.now(), loaded: 0 }];
    showMessage(message, "");
    setBusy(true, file);
    announce(`Uploading ${file.name}.`);
    current = api.uploadRecording(file, {
      title,
      maxUploadBytes,
      onProgress: ({ loaded, total }) => {
        samples.push({ t: performance.now(), loaded });
        while (samples.length > 2 && samples.at(-1).t - samples[0].t > SPEED_WINDOW_MS * 2) {
          samples.shift();
        }
        showProgress(loaded, total, recentSpeed(samples));
      },
    });
    current.promise
      .then((meeting) => {
        form.reset();
        showMessage(
          message,
          `Uploaded “${meetingTitle(meeting)}”. Processing has started; its status below updates by itself.`,
          "ok",
        );
        onUploaded(meeting);
      })
      .catch((err) => {
        showMessage(message, err.message, err.cancelled ? "info" : "error");
      })
      .finally(() => {
        current = null;
        input.value = "";
        setBusy(false);
      });
  }

  function setBusy(busy, file) {
    $("upload-progress").hidden = !busy;
    zone.classList.toggle("busy", busy);
    $("choose-file").disabled = busy;
    $("title-input").disabled = busy;
    input.disabled = busy;
    if (busy) {
      $("upload-name").textContent = `Uploading ${file.name}`;
      showProgress(0, file.size, NaN);
    }
  }

  function showProgress(loaded, total, speed) {
    const bar = $("upload-bar");
    bar.max = total || 1;
    bar.value = loaded;
    const parts = [`${fmt.bytes(loaded)} of ${fmt.bytes(total)} (${fmt.percent(loaded, total) || "0%"})`];
    if (loaded >= total && total > 0) {
      parts.push("finishing on the server…");
    } else if (Number.isFinite(speed) && speed > 0) {
      parts.push(fmt.rate(speed), fmt.remaining((total - loaded) / speed));
    }
    $("upload-stats").textContent = parts.join(" · ");
  }
}
