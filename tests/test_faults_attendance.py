"""The short versions of the restart-attendance and clock-step stories that
`python -m campaigns faults` tells (campaigns/faults_attendance.py)."""
from __future__ import annotations

from campaigns.faults_attendance import clock_steps, restart_attendance


def test_restart_attendance_story():
    out = restart_attendance(quick=True)
    assert not out["failures"], out
    for kind in ("graceful", "crash"):
        fig = out["figures"][kind]
        assert fig["ghosts_after_restart"] == 0 and fig["newcomer"] == "admitted"
        assert abs(fig["p1_credited_s"] - fig["p1_present_s"]) < 1.0


def test_clock_step_story():
    out = clock_steps(quick=True)
    assert not out["failures"], out
    for way in ("forward", "backward"):
        fig = out["figures"][way]
        assert abs(fig["credited_s"] - fig["present_s"]) < 1.0
