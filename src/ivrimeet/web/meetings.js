// The meetings list: newest first, live status (polled), duration, speakers, delete.

import * as api from "./api.js";
import { h, announce, confirmAction, showMessage } from "./dom.js";
import { count, duration, when } from "./format.js";
import { STATUS_LABEL, isActive, meetingTitle } from "./status.js";

const PAGE_SIZE = 20;
const ACTIVE_POLL_MS = 2000;
const IDLE_POLL_MS = 15000;

const $ = (id) => document.getElementById(id);

/** Show the list and keep it current; returns {stop(), refresh(), added(meeting)}. */
export function showMeetings() {
  const list = new MeetingsList();
  list.start();
  return list;
}

class MeetingsList {
  constructor() {
    this.limit = PAGE_SIZE;
    this.items = [];
    this.total = 0;
    this.statuses = new Map();
    this.speakerCounts = new Map();
    this.timer = null;
    this.stopped = false;
    this.onMore = () => {
      this.limit += PAGE_SIZE;
      this.refresh();
    };
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.refresh();
    };
  }

  start() {
    $("meetings-more").addEventListener("click", this.onMore);
    document.addEventListener("visibilitychange", this.onVisible);
    this.refresh();
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    $("meetings-more").removeEventListener("click", this.onMore);
    document.removeEventListener("visibilitychange", this.onVisible);
  }

  /** A meeting just uploaded: show it at once, then poll until it settles. */
  added(meeting) {
    this.items = [meeting, ...this.items.filter((m) => m.id !== meeting.id)];
    this.total += 1;
    this.statuses.set(meeting.id, meeting.status);
    this.render();
    this.refresh();
  }

  async refresh() {
    window.clearTimeout(this.timer);
    if (this.stopped) return;
    const error = $("meetings-error");
    try {
      const page = await api.listMeetings({ offset: 0, limit: this.limit });
      if (this.stopped) return;
      this.items = page.items;
      this.total = page.total;
      showMessage(error, "");
    } catch (err) {
      if (this.stopped) return;
      showMessage(error, `Could not load the meetings: ${err.message}`, "error");
      if (err.status === 401) return;
    }
    this.announceChanges();
    this.render();
    if (document.visibilityState === "hidden") return;
    const delay = this.items.some(isActive) ? ACTIVE_POLL_MS : IDLE_POLL_MS;
    this.timer = window.setTimeout(() => this.refresh(), delay);
  }

  announceChanges() {
    for (const meeting of this.items) {
      const before = this.statuses.get(meeting.id);
      if (before && before !== meeting.status) {
        const title = meetingTitle(meeting);
        if (meeting.status === "done") announce(`“${title}” is done.`);
        else if (meeting.status === "failed") announce(`Processing “${title}” failed.`);
        else announce(`“${title}”: ${STATUS_LABEL[meeting.status] || meeting.status}.`);
      }
      this.statuses.set(meeting.id, meeting.status);
    }
  }

  render() {
    // Polling re-renders only on change, so screen-reader and keyboard users keep their place.
    const signature = JSON.stringify([
      this.total,
      this.items.map((m) => [m.id, m.status, m.title, m.error, m.duration_seconds]),
      [...this.speakerCounts],
    ]);
    if (signature === this.signature) return;
    this.signature = signature;
    const list = $("meetings-list");
    const focusedId = document.activeElement?.closest?.("[data-meeting-id]")?.dataset.meetingId;
    const focusedClass = document.activeElement?.className;
    list.replaceChildren(...this.items.map((m) => this.row(m)));
    $("meetings-empty").hidden = this.items.length > 0;
    $("meetings-more").hidden = this.items.length >= this.total;
    $("meetings-count").textContent = this.total ? `(${this.total})` : "";
    if (focusedId) {
      // Keep keyboard focus on the same control across a re-render.
      const row = list.querySelector(`[data-meeting-id="${CSS.escape(focusedId)}"]`);
      const again = focusedClass && row?.querySelector(`.${focusedClass.split(" ")[0]}`);
      (again || row?.querySelector("a"))?.focus();
    }
  }

  /** Speakers of a done meeting: from the list item if it says, else from the meeting, once. */
  speakerCount(meeting) {
    if (meeting.speaker_count != null) return meeting.speaker_count;
    if (Array.isArray(meeting.speakers) && meeting.segments?.length) return meeting.speakers.length;
    if (meeting.status !== "done") return null;
    const key = `${meeting.id}:${meeting.duration_seconds}`;
    if (!this.speakerCounts.has(key)) {
      this.speakerCounts.set(key, null);
      api
        .getMeeting(meeting.id)
        .then((full) => {
          this.speakerCounts.set(key, full.speakers.length);
          if (!this.stopped) this.render();
        })
        .catch(() => this.speakerCounts.delete(key));
    }
    return this.speakerCounts.get(key);
  }

  row(meeting) {
    const title = meetingTitle(meeting);
    const speakers = this.speakerCount(meeting);
    const facts = [when(meeting.created_at)];
    if (meeting.duration_seconds != null) facts.push(duration(meeting.duration_seconds));
    if (meeting.status === "done" && speakers != null) facts.push(count(speakers, "speaker"));
    const remove = h(
      "button",
      { type: "button", class: "delete-button secondary danger" },
      "Delete",
      h("span", { class: "visually-hidden" }, ` ${title}`),
    );
    remove.addEventListener("click", () => this.delete(meeting, title));
    return h(
      "li",
      { class: "meeting-row", dataset: { meetingId: meeting.id, status: meeting.status } },
      h(
        "div",
        { class: "meeting-main" },
        h("a", { class: "meeting-link", href: `#/meetings/${encodeURIComponent(meeting.id)}` }, title),
        h("p", { class: "meeting-facts" }, facts.join(" · ")),
        meeting.status === "failed" && meeting.error
          ? h("p", { class: "meeting-error" }, meeting.error.split("\n")[0])
          : null,
      ),
      h(
        "span",
        { class: `status status-${meeting.status}` },
        isActive(meeting) ? h("span", { class: "spinner", "aria-hidden": "true" }) : null,
        STATUS_LABEL[meeting.status] || meeting.status,
      ),
      remove,
    );
  }

  async delete(meeting, title) {
    const confirmed = await confirmAction({
      title: "Delete this meeting?",
      text: `“${title}” will be deleted for good: the recording, the speaker samples, the names and the timeline.`,
      confirmLabel: "Delete meeting",
    });
    if (!confirmed) return;
    try {
      await api.deleteMeeting(meeting.id);
      announce(`Deleted “${title}”.`);
      this.items = this.items.filter((m) => m.id !== meeting.id);
      this.total = Math.max(0, this.total - 1);
      this.render();
      $("meetings-heading").focus();
    } catch (err) {
      showMessage($("meetings-error"), `Could not delete “${title}”: ${err.message}`, "error");
    }
    this.refresh();
  }
}
