// One colour per speaker, in the order speakers are listed (a colour-blind-safe palette).

export const PALETTE_SIZE = 8;

/** CSS class for the speaker at `index`: "c0".."c7", repeating. */
export function colorClass(index) {
  return `c${index % PALETTE_SIZE}`;
}

/** Map speaker id -> colour class, following the meeting's speaker order. */
export function speakerColors(speakers) {
  return new Map(speakers.map((speaker, index) => [speaker.id, colorClass(index)]));
}

/** The name people see: the given name, else the diarization label. */
export function displayName(speaker) {
  return speaker.name || prettyLabel(speaker.label);
}

/** "SPEAKER_00" -> "Speaker 1"; other labels unchanged. */
export function prettyLabel(label) {
  const match = /^SPEAKER_(\d+)$/.exec(label || "");
  return match ? `Speaker ${Number(match[1]) + 1}` : label || "Unknown speaker";
}
