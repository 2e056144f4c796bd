"""Report files: atomic writes, one folder per kind, `latest/` following the newest period."""

import pytest

from salesflow_pipelines.lib.reports import files
from salesflow_pipelines.lib.reports.periods import ReportPeriod

W46 = ReportPeriod.from_partition_key("weekly", "2026-11-09")
W47 = ReportPeriod.from_partition_key("weekly", "2026-11-16")


def test_a_failed_write_leaves_the_previous_file_and_no_stray(tmp_path):
    target = tmp_path / "weekly" / "sales-report_2026-W47.pdf"
    files.write_atomically(target, b"first version")
    with pytest.raises(TypeError):
        files.write_atomically(target, "not bytes")  # fails after the temporary file was opened
    assert target.read_bytes() == b"first version"
    assert [path.name for path in target.parent.iterdir()] == [target.name]


def test_publish_names_files_by_period_and_latest_follows_the_newest_period(tmp_path):
    newest = files.publish(tmp_path, W47, "pdf", b"week 47")
    assert newest.path == tmp_path / "weekly" / "sales-report_2026-W47.pdf"
    assert newest.latest == tmp_path / "latest" / "sales-report_weekly.pdf"
    older = files.publish(tmp_path, W46, "pdf", b"week 46")  # a backfill of an older week
    assert older.latest is None
    assert (tmp_path / "latest" / "sales-report_weekly.pdf").read_bytes() == b"week 47"
    rerun = files.publish(tmp_path, W47, "pdf", b"week 47 again")
    assert rerun.latest.read_bytes() == b"week 47 again" and rerun.size_bytes == len(b"week 47 again")


def test_newest_reports_per_kind_and_format(tmp_path):
    files.publish(tmp_path, W46, "pdf", b"a")
    files.publish(tmp_path, W47, "xlsx", b"b")
    files.publish(tmp_path, ReportPeriod.from_partition_key("monthly", "2026-10-01"), "pdf", b"c")
    assert {key: path.name for key, path in files.newest_reports(tmp_path).items()} == {
        ("weekly", "pdf"): "sales-report_2026-W46.pdf",
        ("weekly", "xlsx"): "sales-report_2026-W47.xlsx",
        ("monthly", "pdf"): "sales-report_2026-10.pdf",
    }
    assert files.newest_reports(tmp_path / "nothing here") == {}
