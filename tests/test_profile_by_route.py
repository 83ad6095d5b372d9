"""loadtests/profile_by_route.py: a load test's py-spy samples shared out by route."""
from __future__ import annotations

import sys

import pytest

from engine.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "loadtests"))
from profile_by_route import (BEFORE, FRONT, SERVER, SWEEPER, classify, main, read_samples,  # noqa: E402
                              render, summarise)

#: Frames as py-spy writes them (outermost first), shared by the samples below.
WORKER = ["<module> (gunicorn/__main__.py:10)", "ThreadWorker.handle (gunicorn/workers/gthread.py:280)",
          "Flask.__call__ (flask/app.py:1536)"]
DISPATCH = WORKER + ["QuietPolls.__call__ (engine/quiet_polls.py:64)", "Flask.wsgi_app (flask/app.py:1514)",
                     "Flask.full_dispatch_request (flask/app.py:917)"]
REGISTER = DISPATCH + ["Flask.dispatch_request (flask/app.py:902)",
                       "staff_required.<locals>.decorator.<locals>.wrapped (engine/auth.py:88)",
                       "register (engine/invigilation_views.py:120)", "render (engine/web.py:20)"]
SAVE = DISPATCH + ["Flask.dispatch_request (flask/app.py:902)", "save (engine/candidate.py:288)",
                   "record_save (engine/attempts.py:300)"]
GUARD = DISPATCH + ["Flask.preprocess_request (flask/app.py:1290)", "_candidate_context (engine/candidate.py:96)",
                    "guard (engine/lock_web.py:70)"]
QUIET = WORKER + ["QuietPolls.__call__ (engine/quiet_polls.py:70)", "QuietPolls._read (engine/quiet_polls.py:120)"]
HTTP = WORKER[:2] + ["Response.write (gunicorn/http/wsgi.py:340)"]
SWEEP = ["<module> (engine/cli.py:200)", "sweep (engine/sweeper.py:30)", "finish (engine/attempts.py:470)"]


def test_a_sample_goes_to_the_view_it_served_past_any_decorator():
    assert classify(REGISTER) == ("route register (engine/invigilation_views)", "render")
    assert classify(SAVE) == ("route save (engine/candidate)", "record_save")
    assert classify(SAVE[:-1]) == ("route save (engine/candidate)", "(its own code)")


def test_the_work_around_every_route_has_labels_of_its_own():
    assert classify(GUARD) == (BEFORE.format("lock guard"), None)
    assert classify(QUIET) == (FRONT, None)
    assert classify(HTTP) == (SERVER, None)
    assert classify(["_runner (granian/wsgi.py:58)"]) == (SERVER, None)
    assert classify(SWEEP) == (SWEEPER, None)


def test_the_report_shares_the_servers_cpu_out_in_proportion_largest_first():
    raw = [";".join(SAVE) + " 60", ";".join(GUARD) + " 30", ";".join(REGISTER) + " 10", ""]
    by_label, below = summarise(read_samples(raw))
    assert by_label == {"route save (engine/candidate)": 60, BEFORE.format("lock guard"): 30,
                        "route register (engine/invigilation_views)": 10}
    text = render(by_label, below, cpu_seconds=200.0).splitlines()
    assert text[0].startswith("100 samples") and "200.0" in text[0]
    assert text[2].split() == ["60.0%", "120.0", "route", "save", "(engine/candidate)"]
    assert text[3].split() == ["60.0%", "in", "record_save"]
    assert text[4].split()[:2] == ["30.0%", "60.0"]


def test_a_frame_name_misread_with_a_line_break_stays_one_sample():
    # py-spy --nonblocking can read a name while it changes; the sample ends at its count.
    broken = ";".join(SAVE[:-1]) + ";garbled (Working outside\n\nof a context.);record_save (engine/attempts.py:300) 4"
    (frames, count), = read_samples(broken.splitlines(keepends=True))
    assert count == 4 and classify(frames)[0] == "route save (engine/candidate)"


def test_a_sample_with_no_python_frame_is_the_http_servers_native_code():
    # granian's Rust holds the lock to build the environ and read the response: py-spy writes
    # such a sample as an empty stack and its count.
    (frames, count), = read_samples([" 2\n"])
    assert (frames, count) == ([], 2) and classify(frames) == (SERVER, None)


def test_a_file_that_is_not_pyspy_raw_output_is_named_with_its_line(tmp_path, capsys):
    with pytest.raises(ValueError, match="line 2"):
        list(read_samples([";".join(SAVE) + " 3", "not a sample"]))
    bad = tmp_path / "spy-1.txt"
    bad.write_text(";".join(SAVE) + " 3\nnot a sample\n", encoding="utf-8")
    assert main([str(bad)]) == 1
    assert "spy-1.txt: line 2" in capsys.readouterr().err


def test_no_samples_says_why_there_may_be_none():
    assert "ptrace" in render(*summarise([]))
