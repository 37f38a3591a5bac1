// How a meeting's processing status and title read on the page.

/** Short status words, as shown in the status badge. */
export const STATUS_LABEL = {
  queued: "Queued",
  processing: "Processing",
  done: "Done",
  failed: "Failed",
};

/** A sentence per status, for the meeting page and screen-reader announcements. */
export const STATUS_TEXT = {
  queued: "Queued: waiting for a worker.",
  processing: "Processing: finding who spoke when.",
  done: "Done.",
  failed: "Processing failed.",
};

/** What each processing step does, in words (the API's `progress.step`). */
export const STEP_TEXT = {
  decode: "Reading the recording",
  segmentation: "Finding speech",
  embeddings: "Telling voices apart",
  clustering: "Grouping voices",
  snippets: "Cutting snippets",
  voiceprints: "Computing voiceprints",
  results: "Saving results",
};

/** "Telling voices apart: 45 % done" for a meeting's `progress`. */
export function progressText(progress) {
  return `${STEP_TEXT[progress.step] || progress.step}: ${progress.percent} % done`;
}

/** True while the server is still working on the meeting. */
export const isActive = (meeting) => meeting.status === "queued" || meeting.status === "processing";

/** The meeting's title, or a stand-in naming when it was uploaded. */
export function meetingTitle(meeting) {
  if (meeting.title && meeting.title.trim()) return meeting.title.trim();
  if (meeting.created_at) {
    const date = new Date(meeting.created_at);
    if (!Number.isNaN(date.getTime())) {
      return `Meeting of ${date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`;
    }
  }
  return "Untitled meeting";
}
