"""The simulation runs the console's node page links to, and the files it serves of them."""

from __future__ import annotations

from pathlib import Path

from biometric_exchange.console.reports import find_reports, report_file


def test_runs_with_a_report_are_listed_and_only_their_own_files_served(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = runs / "demo-2017"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# demo\n", encoding="utf-8")
    (run / "alerts.png").write_bytes(b"\x89PNG")
    (run / "notes.txt").write_text("not served", encoding="utf-8")
    (runs / "empty").mkdir()
    (tmp_path / "secret.md").write_text("outside", encoding="utf-8")

    [listed] = find_reports(runs)
    assert (listed.name, listed.files) == ("demo-2017", ("alerts.png", "report.md"))
    served = report_file(runs, "demo-2017", "report.md")
    assert served is not None and served[1].startswith("text/plain")
    for run_name, name in (
        ("demo-2017", "notes.txt"),
        ("..", "secret.md"),
        ("demo-2017", "../../secret.md"),
        ("empty", "report.md"),
    ):
        assert report_file(runs, run_name, name) is None, (run_name, name)
    assert find_reports(None) == [] and find_reports(tmp_path / "missing") == []
