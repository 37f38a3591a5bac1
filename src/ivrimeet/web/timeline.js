// The speaker timeline: one lane per speaker, a coloured button per turn, a time axis, a playhead.
//
// Keyboard: each lane is one Tab stop; Left/Right move between that speaker's turns,
// Up/Down jump to the nearest turn of the previous/next speaker, Home/End go to the
// first/last turn; Enter or Space plays the recording from the focused turn.

import { h } from "./dom.js";
import { clock, duration as spoken } from "./format.js";
import { displayName } from "./colors.js";

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
const MIN_TICK_SPACING_PX = 72;

/** Seconds the timeline spans: the meeting's duration, else the end of its last turn. */
export function timelineLength(meeting) {
  const lastEnd = Math.max(0, ...(meeting.segments || []).map((s) => s.end));
  return Math.max(meeting.duration_seconds || 0, lastEnd) || 1;
}

/** The largest "nice" step that keeps tick labels at least MIN_TICK_SPACING_PX apart. */
export function tickStep(totalSeconds, widthPx) {
  const maxTicks = Math.max(2, Math.floor(widthPx / MIN_TICK_SPACING_PX));
  return NICE_STEPS.find((step) => totalSeconds / step <= maxTicks) ?? NICE_STEPS.at(-1);
}

const pct = (seconds, total) => `${Math.min(100, Math.max(0, (100 * seconds) / total))}%`;

/**
 * Draw the timeline of `meeting` into `container`.
 * `onSeek(seconds, {play})` is called when a turn (play: true) or an empty spot of a lane
 * (play: false) is chosen. Returns {setTime(seconds), destroy()}.
 */
export function renderTimeline(container, meeting, { colors, onSeek }) {
  const total = timelineLength(meeting);
  const bySpeaker = new Map(meeting.speakers.map((s) => [s.id, []]));
  for (const segment of meeting.segments || []) {
    bySpeaker.get(segment.speaker_id)?.push(segment);
  }
  const playheads = [];
  const lanes = [];

  for (const [index, speaker] of meeting.speakers.entries()) {
    const turns = (bySpeaker.get(speaker.id) || []).sort((a, b) => a.start - b.start);
    const name = displayName(speaker);
    const labelId = `lane-label-${index}`;
    const color = colors.get(speaker.id);
    const buttons = turns.map((turn, i) =>
      h("button", {
        type: "button",
        class: `turn ${color}`,
        tabIndex: i === 0 ? 0 : -1,
        "aria-label": `${name}, ${clock(turn.start)} to ${clock(turn.end)} (${spoken(turn.end - turn.start)})`,
        title: `${name}: ${clock(turn.start)}–${clock(turn.end)}`,
        style: { left: pct(turn.start, total), width: pct(turn.end - turn.start, total) },
        dataset: { start: String(turn.start), end: String(turn.end) },
        onclick: () => onSeek(turn.start, { play: true }),
      }),
    );
    const playhead = h("div", { class: "playhead", "aria-hidden": "true" });
    playheads.push(playhead);
    const track = h("div", { class: "lane-track" }, buttons, playhead);
    track.addEventListener("click", (event) => {
      if (event.target !== track) return;
      const box = track.getBoundingClientRect();
      onSeek(((event.clientX - box.left) / box.width) * total, { play: false });
    });
    const lane = h(
      "div",
      {
        class: "lane",
        role: "group",
        "aria-labelledby": labelId,
        dataset: { speakerId: speaker.id },
      },
      h(
        "div",
        { class: "lane-label", id: labelId },
        h("span", { class: `swatch ${color}`, "aria-hidden": "true" }),
        h("span", { class: "lane-name" }, name),
        h("span", { class: "visually-hidden" }, `, ${turns.length} turns`),
      ),
      track,
    );
    lanes.push({ lane, buttons, turns });
  }

  const axis = h("div", { class: "axis" });
  const axisPlayhead = h("div", { class: "playhead", "aria-hidden": "true" });
  playheads.push(axisPlayhead);
  const axisRow = h(
    "div",
    { class: "lane axis-row", "aria-hidden": "true" },
    h("div", { class: "lane-label" }),
    h("div", { class: "axis-track" }, axis, axisPlayhead),
  );

  const drawTicks = () => {
    const width = axis.clientWidth || 600;
    const step = tickStep(total, width);
    const ticks = [];
    for (let t = 0; t <= total + 1e-6; t += step) {
      const x = (t / total) * width;
      if (t > 0 && x > width - 24) break;
      ticks.push(
        h(
          "span",
          { class: t === 0 ? "tick first" : "tick", style: { left: pct(t, total) } },
          clock(t),
        ),
      );
    }
    axis.replaceChildren(...ticks);
  };

  container.replaceChildren(...lanes.map((l) => l.lane), axisRow);
  container.setAttribute("aria-label", `Speaker timeline, ${clock(total)} long`);
  drawTicks();
  const resize = new ResizeObserver(drawTicks);
  resize.observe(axis);

  container.onkeydown = (event) => keyboard(event, lanes);

  let activeButton = null;
  return {
    setTime(seconds) {
      const left = pct(seconds, total);
      for (const playhead of playheads) playhead.style.left = left;
      let current = null;
      for (const { buttons, turns } of lanes) {
        const i = turns.findIndex((t) => t.start <= seconds && seconds < t.end);
        if (i >= 0) current = buttons[i];
      }
      if (current !== activeButton) {
        activeButton?.classList.remove("active");
        current?.classList.add("active");
        activeButton = current;
      }
    },
    destroy() {
      resize.disconnect();
      container.onkeydown = null;
    },
  };
}

function keyboard(event, lanes) {
  const button = event.target.closest?.(".turn");
  if (!button) return;
  const laneIndex = lanes.findIndex((l) => l.buttons.includes(button));
  if (laneIndex < 0) return;
  const { buttons, turns } = lanes[laneIndex];
  const i = buttons.indexOf(button);
  let target = null;
  switch (event.key) {
    case "ArrowRight":
      target = buttons[i + 1];
      break;
    case "ArrowLeft":
      target = buttons[i - 1];
      break;
    case "Home":
      target = buttons[0];
      break;
    case "End":
      target = buttons.at(-1);
      break;
    case "ArrowUp":
    case "ArrowDown": {
      const step = event.key === "ArrowUp" ? -1 : 1;
      for (let j = laneIndex + step; j >= 0 && j < lanes.length; j += step) {
        if (lanes[j].buttons.length) {
          target = nearest(lanes[j], turns[i].start);
          break;
        }
      }
      break;
    }
    default:
      return;
  }
  event.preventDefault();
  if (!target) return;
  const lane = lanes.find((l) => l.buttons.includes(target));
  for (const b of lane.buttons) b.tabIndex = b === target ? 0 : -1;
  target.focus();
}

function nearest({ buttons, turns }, seconds) {
  let best = 0;
  for (let j = 1; j < turns.length; j += 1) {
    if (Math.abs(turns[j].start - seconds) < Math.abs(turns[best].start - seconds)) best = j;
  }
  return buttons[best];
}
