// The meeting view: status while processing, then the recording, the timeline and the speakers.

import * as api from "./api.js";
import { h, announce, confirmAction, showMessage } from "./dom.js";
import { count, duration, when } from "./format.js";
import { speakerColors, displayName } from "./colors.js";
import { renderTimeline, timelineLength } from "./timeline.js";
import { renderSpeakers } from "./speakers.js";
import { STATUS_LABEL, STATUS_TEXT, meetingTitle, progressText } from "./status.js";

const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);

/** Show meeting `id`; returns a function that stops everything the view started. */
export function showMeeting(id, { onDeleted }) {
  const view = new MeetingView(id, onDeleted);
  view.start();
  return () => view.stop();
}

class MeetingView {
  constructor(id, onDeleted) {
    this.id = id;
    this.onDeleted = onDeleted;
    this.meeting = null;
    this.timeline = null;
    this.stopped = false;
    this.timer = null;
    this.frame = null;
    this.recordingReady = false;
    this.recording = $("recording");
    this.cleanups = [];
  }

  start() {
    $("meeting-title").textContent = "Loading…";
    $("meeting-meta").textContent = "";
    $("meeting-result").hidden = true;
    $("meeting-progress").hidden = true;
    $("meeting-retry").hidden = true;
    showMessage($("meeting-message"), "");
    $("meeting-actions").hidden = true;
    this.recording.removeAttribute("src");
    this.recording.load();

    this.listen($("meeting-delete"), "click", () => this.delete());
    this.listen($("meeting-rttm"), "click", () => this.downloadRttm());
    this.listen($("meeting-retry"), "click", () => this.reprocess());
    for (const type of ["timeupdate", "seeked", "loadedmetadata"]) {
      this.listen(this.recording, type, () => this.timeline?.setTime(this.recording.currentTime));
    }
    this.listen(this.recording, "play", () => {
      this.pauseSnippets();
      this.follow();
    });
    this.listen(this.recording, "error", () => this.recordingFailed());
    this.refresh();
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.cancelAnimationFrame(this.frame);
    this.timeline?.destroy();
    this.cleanups.forEach((fn) => fn());
    this.pauseSnippets();
    this.recording.pause();
    this.recording.removeAttribute("src");
    this.recording.load();
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
  }

  listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.cleanups.push(() => target.removeEventListener(type, fn));
  }

  async refresh() {
    window.clearTimeout(this.timer);
    let meeting;
    try {
      meeting = await api.getMeeting(this.id);
    } catch (err) {
      if (this.stopped) return;
      if (err.status === 404) {
        $("meeting-title").textContent = "Meeting not found";
        showMessage($("meeting-message"), "This meeting does not exist (any more).", "error");
        return;
      }
      showMessage($("meeting-message"), err.message, "error");
      if (err.status !== 401) this.timer = window.setTimeout(() => this.refresh(), POLL_MS * 3);
      return;
    }
    if (this.stopped) return;
    const previous = this.meeting?.status;
    this.meeting = meeting;
    this.renderHeader();
    if (meeting.status === "done") {
      if (previous && previous !== "done") {
        announce(`Processing finished: ${count(meeting.speakers.length, "speaker")} found.`);
      }
      this.renderResult();
    } else {
      $("meeting-result").hidden = true; // e.g. processed again: the old results are going away
      if (previous && previous !== meeting.status) announce(STATUS_TEXT[meeting.status] || meeting.status);
      if (meeting.status === "queued" || meeting.status === "processing") {
        this.timer = window.setTimeout(() => this.refresh(), POLL_MS);
      }
    }
  }

  renderHeader() {
    const m = this.meeting;
    const title = meetingTitle(m);
    $("meeting-title").textContent = title;
    document.title = `${title} · ivrimeet`;
    const parts = [`Uploaded ${when(m.created_at)}`];
    if (m.duration_seconds != null) parts.push(duration(m.duration_seconds));
    if (m.status === "done") parts.push(count(m.speakers.length, "speaker"));
    $("meeting-meta").textContent = parts.join(" · ");
    $("meeting-actions").hidden = false;
    $("meeting-rttm").hidden = m.status !== "done";

    const status = $("meeting-status");
    status.dataset.status = m.status;
    status.textContent = STATUS_LABEL[m.status] || m.status;
    const working = m.status === "queued" || m.status === "processing";
    const bar = $("meeting-progress");
    bar.hidden = !working;
    if (m.progress) {
      bar.max = 100;
      bar.value = m.progress.percent;
      bar.setAttribute("aria-valuetext", progressText(m.progress));
    } else {
      bar.removeAttribute("value"); // indeterminate until the job's first report
      bar.removeAttribute("aria-valuetext");
    }
    $("meeting-retry").hidden = m.status !== "failed";
    if (m.status === "failed") {
      showMessage(
        $("meeting-message"),
        `Processing failed: ${m.error || "no reason was recorded."}`,
        "error",
      );
    } else if (working) {
      showMessage(
        $("meeting-message"),
        m.status === "queued"
          ? "Waiting for a worker. This page updates by itself."
          : `${m.progress ? `${progressText(m.progress)}. ` : "Finding who spoke when. "}` +
            "This page updates by itself.",
        "info",
      );
    } else if (m.warning) {
      // Processed, but the recording was cut short or damaged: the user should know.
      showMessage($("meeting-message"), `Processed with a warning: ${m.warning}`, "info");
    } else {
      showMessage($("meeting-message"), "");
    }
  }

  renderResult() {
    const m = this.meeting;
    const colors = speakerColors(m.speakers);
    const total = timelineLength(m);
    $("meeting-result").hidden = false;
    this.timeline?.destroy();
    this.timeline = renderTimeline($("timeline"), m, {
      colors,
      onSeek: (seconds, { play }) => this.seek(seconds, play),
    });
    this.timeline.setTime(this.recording.currentTime || 0);
    $("timeline-empty").hidden = m.segments.length > 0;
    renderSpeakers($("speakers"), m, {
      colors,
      total,
      actions: {
        rename: (speaker, name) => this.rename(speaker, name),
        snippetUrl: (speaker) => this.snippetUrl(speaker),
        onPlay: (audio) => this.pauseOthers(audio),
      },
    });
    if (!this.recordingReady) this.loadRecording();
  }

  async loadRecording() {
    this.recordingReady = true;
    try {
      const url = this.meeting.audio_url || `${api.meetingPath(this.id)}/audio`;
      const playable = await api.playableUrl(url);
      if (this.stopped) return;
      if (playable.startsWith("blob:")) this.blobUrl = playable;
      this.recording.src = playable;
    } catch (err) {
      this.recordingReady = false;
      showMessage($("meeting-message"), `The recording cannot be played here: ${err.message}`, "error");
    }
  }

  recordingFailed() {
    if (!this.recording.getAttribute("src") || this.stopped) return;
    // Most likely the signed URL expired: get a fresh one and keep the position.
    const at = this.recording.currentTime;
    if (this.recordingRetried) {
      showMessage($("meeting-message"), "The recording could not be played.", "error");
      return;
    }
    this.recordingRetried = true;
    this.recordingReady = false;
    this.loadRecording().then(() => {
      this.recording.currentTime = at;
    });
  }

  seek(seconds, play) {
    const target = Math.max(0, seconds);
    this.recording.currentTime = target;
    this.timeline?.setTime(target);
    if (play) {
      this.pauseSnippets();
      this.recording.play().catch(() => {});
    }
  }

  follow() {
    window.cancelAnimationFrame(this.frame);
    const tick = () => {
      if (this.stopped) return;
      this.timeline?.setTime(this.recording.currentTime);
      if (!this.recording.paused) this.frame = window.requestAnimationFrame(tick);
    };
    this.frame = window.requestAnimationFrame(tick);
  }

  pauseSnippets(except) {
    for (const audio of document.querySelectorAll("audio.snippet")) {
      if (audio !== except && !audio.paused) audio.pause();
    }
  }

  pauseOthers(audio) {
    this.pauseSnippets(audio);
    this.recording.pause();
  }

  async snippetUrl(speaker, { fresh = false } = {}) {
    // Signed URLs are short-lived; after a failed play, take the one of a fresh copy.
    let current = speaker;
    if (fresh) {
      const meeting = await api.getMeeting(this.id);
      current = meeting.speakers.find((s) => s.id === speaker.id) || speaker;
    }
    return api.playableUrl(current.snippet_url, { allowBlob: true });
  }

  async rename(speaker, name) {
    await api.renameSpeaker(this.id, speaker.id, name);
    announce(`${displayName(speaker)} is now called ${name}.`);
    const meeting = await api.getMeeting(this.id);
    if (this.stopped) return;
    this.meeting = meeting;
    this.renderResult();
    document
      .querySelector(`.speaker[data-speaker-id="${CSS.escape(speaker.id)}"] .rename-button`)
      ?.focus();
  }

  async downloadRttm() {
    const button = $("meeting-rttm");
    button.disabled = true;
    try {
      const blob = await api.rttmBlob(this.id);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: `${fileStem(meetingTitle(this.meeting))}.rttm` });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      announce("RTTM file downloaded.");
    } catch (err) {
      showMessage($("meeting-message"), `Could not download the RTTM file: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  }

  async reprocess() {
    try {
      await api.request(`${api.meetingPath(this.id)}/reprocess`, { method: "POST" });
      announce("Processing again.");
      this.refresh();
    } catch (err) {
      showMessage($("meeting-message"), err.message, "error");
    }
  }

  async delete() {
    const title = meetingTitle(this.meeting || { id: this.id });
    const confirmed = await confirmAction({
      title: "Delete this meeting?",
      text: `“${title}” will be deleted for good: the recording, the speaker samples, the names and the timeline.`,
      confirmLabel: "Delete meeting",
    });
    if (!confirmed) return;
    try {
      await api.deleteMeeting(this.id);
    } catch (err) {
      showMessage($("meeting-message"), `Could not delete the meeting: ${err.message}`, "error");
      return;
    }
    announce(`Deleted “${title}”.`);
    this.onDeleted();
  }
}

function fileStem(title) {
  return (
    title
      .normalize("NFKD")
      .replace(/[^\w.-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 80) || "meeting"
  );
}
