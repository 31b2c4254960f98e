"""``follow`` yields a data stream's attribute updates (:class:`AttributesUpdated`), live and replayed.

A writer's ``set_attribute`` / ``update_attributes`` is journalled as an ``attrs`` record in
order with the entries around it; a follower yields the stream's whole ``application``
attributes after each update, between the entries appended before and after it, for the
streams it selected. A finished file keeps only the final attributes: its replay gives
them once per selected stream that has any, after its last window.
"""

from __future__ import annotations

import signal

from follow_writer import expected_entry
from test_follow import finish, start_reader, start_writer, writer_acks

import cldata
from cldata.live import AttributesUpdated, Batch, StreamEntry, follow


def kinds(events):
    """The events as compact tuples: ("e", stream, timestamp) or ("a", stream, attributes)."""
    out = []
    for e in events:
        if isinstance(e, StreamEntry):
            out.append(("e", e.stream, e.timestamp))
        elif isinstance(e, AttributesUpdated):
            out.append(("a", e.stream, e.attributes))
    return out


def test_an_update_between_appends_arrives_between_their_entries_with_the_whole_attributes(tmp_path):
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        gen = follow(path, poll_interval=0.001)
        s = w.create_data_stream("score", {"player": "culture-7"})
        s.append(1, 10)
        s.append(2, 20)
        s.set_attribute("level", 1)
        s.append(3, 30)
        w.flush()  # one flush: the update still splits its entries
        got = [next(gen) for _ in range(4)]
    rest = list(gen)
    assert kinds(got) == [("e", "score", 1), ("e", "score", 2),
                          ("a", "score", {"player": "culture-7", "level": 1}), ("e", "score", 3)]
    assert rest == []  # a stream with attributes on a live journal: no replay event at the end


def test_several_updates_arrive_in_order_in_batch_mode_too(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    gen = follow(path, batch=True, poll_interval=0.001)
    s = w.create_data_stream("score")
    s.append(1, 0)
    s.set_attribute("a", 1)
    s.update_attributes({"b": 2, "a": 3})
    w.set_attribute("root_only", True)  # the recording's attributes: no stream event
    s.append(2, 0)
    w.flush()
    batches = [next(gen) for _ in range(4)]
    w.close()
    assert list(gen) == []
    assert all(isinstance(b, Batch) and b.live for b in batches)
    assert [b.entry_count for b in batches] == [1, 0, 0, 1]
    assert [b.attributes for b in batches] == [{}, {"score": {"a": 1}}, {"score": {"a": 3, "b": 2}}, {}]
    # an attributes-only batch is numbered like the batch record that follows it
    assert [b.number for b in batches] == [0, 1, 1, 1]
    assert [list(b.events()) for b in batches[1:3]] == [[AttributesUpdated("score", {"a": 1})],
                                                        [AttributesUpdated("score", {"a": 3, "b": 2})]]


def test_the_seed_use_case_a_live_score_kept_as_an_attribute(tmp_path):
    path = tmp_path / "rec.h5"
    w = cldata.RecordingWriter(path)
    gen = follow(path, "game", poll_interval=0.001)
    game = w.create_data_stream("game", {"score": 0})
    shown = {}
    for k in range(1, 6):
        game.append(100 * k, {"hit": k % 2 == 0})
        if k % 2 == 0:
            game.set_attribute("score", game.attributes["score"] + 1)
        w.flush()
    w.close()
    for event in gen:  # what a live view would show
        if isinstance(event, AttributesUpdated):
            shown = event.attributes
    assert shown == {"score": 2}


def test_streams_not_selected_yield_no_updates(tmp_path):
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        ball, score = w.create_data_stream("ball"), w.create_data_stream("score")
        gen = follow(path, "ball*", poll_interval=0.001)
        none = follow(path, [], poll_interval=0.001)
        ball.append(1, 1)
        score.set_attribute("points", 1)
        ball.set_attribute("units", "px")
        score.append(2, 2)
        w.flush()
        got = [next(gen) for _ in range(2)]
    assert kinds(got) == [("e", "ball", 1), ("a", "ball", {"units": "px"})]
    assert kinds(list(gen)) == [] and list(none) == []


def test_a_replay_of_a_finished_file_ends_with_each_selected_streams_final_attributes(tmp_path):
    path = tmp_path / "rec.h5"
    with cldata.RecordingWriter(path) as w:
        score = w.create_data_stream("score", {"player": "p"})
        ball = w.create_data_stream("ball")
        plain = w.create_data_stream("plain")
        for k in range(3):
            score.append(25_000 * k + 1, k)  # three one-second windows
            score.set_attribute("points", k)
            ball.append(25_000 * k + 2, k)
            plain.append(25_000 * k + 3, k)
        ball.update_attributes({"units": "px"})
    events = list(follow(path))
    finals = [e for e in events if isinstance(e, AttributesUpdated)]
    # no history in the file: one per stream that has attributes, after every entry
    assert sorted(finals) == [AttributesUpdated("ball", {"units": "px"}),
                              AttributesUpdated("score", {"player": "p", "points": 2})]
    assert events[-2:] == finals and all(isinstance(e, StreamEntry) for e in events[:-2])
    batches = list(follow(path, ["ball"], batch=True))
    assert not batches[-1].live and batches[-1].entry_count == 0
    assert batches[-1].attributes == {"ball": {"units": "px"}}
    assert [b.number for b in batches] == list(range(len(batches)))
    with cldata.RecordingView(path) as view:  # a view is replayed the same way
        assert [e for e in follow(view, "score") if isinstance(e, AttributesUpdated)] == \
            [AttributesUpdated("score", {"player": "p", "points": 2})]
    assert [e for e in follow(path, "plain") if isinstance(e, AttributesUpdated)] == []


# -- a real writer process (tests/follow_writer.py sets ball_position's "units" at flush 5) ---------


# how follow_reader.py prints ball_position's attributes after the update (tests/conftest's jsonable)
UNITS = {"attrs": "ball_position", "a": {"dict": [["created_at_flush", 0], ["units", "px"]]}}


def attrs_lines(lines):
    return [(i, line) for i, line in enumerate(lines) if "attrs" in line]


def test_a_follower_process_gets_the_update_of_a_writer_process_between_the_right_entries(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--streams", "ball_position", "--start-timeout", "60")
    writer = start_writer(path, "--flushes", "8", "--per-flush", "5", "--delay", "0.005")
    finish(writer)
    lines = finish(reader)
    assert lines[-1] == {"end": "closed"}
    found = attrs_lines(lines)
    assert [line for _, line in found] == [UNITS]
    # flush 5 appended entries 25..29 before the update, flush 6 appends 30.. after it
    i = found[0][0]
    assert lines[i - 1]["e"] == "ball_position" and lines[i - 1]["t"] == expected_entry("ball_position", 29)[0]
    assert lines[i + 1]["e"] == "ball_position" and lines[i + 1]["t"] == expected_entry("ball_position", 30)[0]


def test_a_killed_writer_still_delivers_the_flushed_update(tmp_path):
    path = tmp_path / "rec.h5"
    reader = start_reader(path, "--start-timeout", "60")
    writer = start_writer(path, "--flushes", "0", "--per-flush", "5", "--delay", "0.003")
    acks = writer_acks(writer, 8)  # flush 5 (with the update) has returned
    assert acks[-1]["flush"] == 7
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    lines = finish(reader)
    assert lines[-1]["end"] == "error" and lines[-1]["type"] == "UnfinishedRecordingError"
    assert [line for _, line in attrs_lines(lines)] == [
        UNITS
    ]
