"""Label issues: find the real label mistakes and fix them.

Public API::

    from classlab.labels import compute_oos_predictions   # K-fold out-of-sample LeNet-5
    from classlab.labels import find_label_issues         # cleanlab on any logits field(s)
    from classlab.labels import fix_labels, revert_label_fixes, mark_labels_ok

``compute_oos_predictions`` writes calibrated out-of-sample predictions
(:mod:`classlab.labels.oos`; ``shards=N`` shares its folds among delegated
operations: :mod:`classlab.labels.oos_shards`); ``find_label_issues`` scores every label and flags
the likely wrong ones with a suggested label (:mod:`classlab.labels.issues`);
``fix_labels`` / ``revert_label_fixes`` / ``mark_labels_ok`` review them with a
history and an exact undo (:mod:`classlab.labels.fixes`).
"""

from classlab.labels.fixes import fix_labels, mark_labels_ok, revert_label_fixes
from classlab.labels.issues import find_label_issues, list_label_issue_runs, review_view
from classlab.labels.oos import compute_oos_predictions, list_oos_runs

__all__ = [
    "compute_oos_predictions",
    "find_label_issues",
    "fix_labels",
    "list_label_issue_runs",
    "list_oos_runs",
    "mark_labels_ok",
    "revert_label_fixes",
    "review_view",
]
