"""Reports: one Report object built from the database, rendered as csv, json, html, xlsx or pdf.

`build_report(database, period)` does all the querying; renderers take the Report and never query.
"""

from __future__ import annotations

from monitor.reports.build import build_report
from monitor.reports.model import Report, Table
from monitor.reports.period import Period, PeriodError, iso_week, parse_period, previous_full_week, quarter
from monitor.reports.render import FORMATS, render, write_report, write_weekly

__all__ = ["FORMATS", "Period", "PeriodError", "Report", "Table", "build_report", "iso_week", "parse_period",
           "previous_full_week", "quarter", "render", "write_report", "write_weekly"]
