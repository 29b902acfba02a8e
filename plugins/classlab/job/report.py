"""The main job's report: every step's result, the comparison, the label issues."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classlab.job.runner import StepResult, format_summary


@dataclass
class WorkflowReport:
    """The outcome: one :class:`StepResult` per step, the comparison, and the
    ``label_issues`` record (``counts_per_split``, ``counts_per_class``, ...)."""

    dataset_name: str
    results: list[StepResult]
    comparison: dict[str, Any] = field(default_factory=dict)
    label_issues: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return all(r.status != "failed" for r in self.results)

    def label_issues_line(self) -> str:
        """How many label issues cleanlab found in train and test ("" when none ran)."""
        from classlab.job.outcomes import LabelIssues

        rec = self.label_issues
        return LabelIssues.from_record(rec).line() if rec.get("field") else ""

    def summary(self) -> str:
        """The per-step table (time, peak memory, result), the label issues line, then
        the comparison's paired tests and attribution (see :mod:`classlab.job.comparing`)."""
        lines = [self.label_issues_line()] if self.label_issues.get("field") else []
        lines += self.comparison.get("lines", [])
        return format_summary(self.results) + "".join(f"\n{line}" for line in lines)
