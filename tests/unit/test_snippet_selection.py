"""Snippet selection on synthetic diarizations: clean speech, longest first, in budget, faded."""

from __future__ import annotations

import numpy as np
import pytest

from ivrimeet.media.snippets import (
    Interval,
    Turn,
    clean_speech,
    plan_snippets,
    render,
    select_pieces,
    speaking_seconds,
)

RATE = 16_000


def _i(start: float, end: float) -> Interval:
    return Interval(start, end)


def test_overlap_with_another_speaker_is_cut_out_of_both_speakers_clean_speech() -> None:
    turns = [Turn(0, 10, "A"), Turn(8, 14, "B")]

    clean = clean_speech(turns)

    assert clean["A"] == [_i(0, 8)]
    assert clean["B"] == [_i(10, 14)]


def test_turn_interrupted_in_the_middle_keeps_the_clean_parts_before_and_after() -> None:
    turns = [Turn(0, 20, "A"), Turn(5, 6, "B"), Turn(12, 13.5, "C")]

    assert clean_speech(turns)["A"] == [_i(0, 5), _i(6, 12), _i(13.5, 20)]


def test_turn_fully_covered_by_another_speaker_has_no_clean_speech() -> None:
    turns = [Turn(0, 10, "A"), Turn(2, 4, "B")]

    assert clean_speech(turns)["B"] == []


def test_touching_turns_of_one_speaker_merge_into_one_piece() -> None:
    turns = [Turn(0, 3, "A"), Turn(3, 7, "A"), Turn(9, 10, "A")]

    assert clean_speech(turns)["A"] == [_i(0, 7), _i(9, 10)]


def test_longest_pieces_are_taken_first_and_returned_in_time_order() -> None:
    available = [_i(0, 2), _i(10, 16), _i(20, 21), _i(30, 34), _i(40, 43)]

    pieces = select_pieces(available, seconds=10)

    # 6 s + 4 s fill the budget; the 3 s and shorter ones are left out.
    assert pieces == (_i(10, 16), _i(30, 34))


def test_piece_that_does_not_fit_is_cut_from_its_start_to_fill_the_budget() -> None:
    available = [_i(0, 9), _i(20, 27)]

    pieces = select_pieces(available, seconds=15)

    assert pieces == (_i(0, 9), _i(20, 26))
    assert sum(p.duration for p in pieces) == pytest.approx(15)


def test_single_long_turn_gives_its_first_snippet_seconds() -> None:
    assert select_pieces([_i(5, 65)], seconds=15) == (_i(5, 20),)


def test_remainder_shorter_than_the_minimum_piece_is_not_padded_with_a_fragment() -> None:
    available = [_i(0, 14.8), _i(20, 25)]

    pieces = select_pieces(available, seconds=15, min_piece_seconds=0.5)

    assert pieces == (_i(0, 14.8),)


def test_tiny_pieces_are_skipped_while_longer_ones_exist() -> None:
    available = [_i(0, 0.2), _i(1, 1.3), _i(5, 7), _i(9, 9.4)]

    assert select_pieces(available, seconds=15, min_piece_seconds=0.5) == (_i(5, 7),)


def test_tiny_pieces_are_used_when_they_are_all_a_speaker_has() -> None:
    available = [_i(0, 0.2), _i(1, 1.3), _i(9, 9.4)]

    assert select_pieces(available, seconds=15, min_piece_seconds=0.5) == tuple(available)


def test_speaker_with_less_than_the_budget_gets_all_their_clean_speech() -> None:
    turns = [Turn(0, 4, "A"), Turn(4, 30, "B"), Turn(31, 33, "A")]

    plans = plan_snippets(turns, seconds=15)

    assert plans["A"].pieces == (_i(0, 4), _i(31, 33))
    assert plans["A"].seconds == pytest.approx(6)
    assert plans["B"].pieces == (_i(4, 19),)


def test_no_snippet_piece_overlaps_any_other_speakers_turn() -> None:
    rng = np.random.default_rng(7)
    turns = []
    for index in range(60):
        start = float(rng.uniform(0, 300))
        turns.append(Turn(start, start + float(rng.uniform(0.1, 12)), f"S{index % 4}"))

    plans = plan_snippets(turns, seconds=15)

    for speaker, plan in plans.items():
        assert plan.seconds <= 15 + 1e-6
        if not plan.clean:
            continue
        for piece in plan.pieces:
            for turn in turns:
                if turn.speaker != speaker:
                    assert piece.end <= turn.start + 1e-9 or piece.start >= turn.end - 1e-9


def test_speaker_heard_only_in_overlap_gets_their_overlapped_turns_marked_not_clean() -> None:
    turns = [Turn(0, 10, "A"), Turn(2, 4, "B")]

    plans = plan_snippets(turns, seconds=15)

    assert plans["B"].pieces == (_i(2, 4),)
    assert plans["B"].clean is False
    assert plans["A"].clean is True


def test_speaking_seconds_count_each_speakers_own_overlaps_once() -> None:
    turns = [Turn(0, 5, "A"), Turn(3, 8, "A"), Turn(2, 4, "B")]

    assert speaking_seconds(turns) == {"A": pytest.approx(8), "B": pytest.approx(2)}


def test_render_joins_pieces_without_gaps_and_fades_each_edge() -> None:
    samples = np.ones(10 * RATE, dtype=np.float32)

    joined = render(samples, RATE, [_i(1, 2), _i(5, 6.5)], fade_seconds=0.03)

    assert len(joined) == int(2.5 * RATE)
    fade = int(0.03 * RATE)
    boundary = RATE  # where the first piece ends and the second begins
    assert joined[0] == 0.0
    assert joined[boundary - 1] < 0.05
    assert joined[boundary] == 0.0
    assert np.all(np.diff(joined[:fade]) > 0)
    assert np.all(joined[fade : boundary - fade] == 1.0)
    assert joined[-1] < 0.05


def test_render_never_returns_more_samples_than_the_plans_seconds() -> None:
    samples = np.ones(60 * RATE, dtype=np.float32)
    pieces = select_pieces([_i(0.33333, 9.77777), _i(20.1, 31.9)], seconds=15)

    joined = render(samples, RATE, pieces)

    assert len(joined) <= 15 * RATE


def test_render_clips_pieces_that_reach_past_the_end_of_the_audio() -> None:
    samples = np.ones(3 * RATE, dtype=np.float32)

    assert len(render(samples, RATE, [_i(2, 5)])) == RATE
    assert len(render(samples, RATE, [_i(4, 5)])) == 0


def test_render_fades_a_piece_shorter_than_two_fades_without_failing() -> None:
    samples = np.ones(RATE, dtype=np.float32)

    joined = render(samples, RATE, [_i(0.5, 0.52)], fade_seconds=0.03)

    assert len(joined) == int(0.02 * RATE)
    assert joined.max() < 1.0
