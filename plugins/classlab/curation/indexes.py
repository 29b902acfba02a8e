"""Database indexes on score fields, so the App's grid offers them in "Sort by".

On a large dataset the App (query performance mode) sorts and filters only by
indexed fields: without an index, a score field that ClassLab wrote cannot be
sorted in the grid. Every function that writes a score field calls
:func:`ensure_score_indexes` after its write; :func:`delete_score_fields` removes
a score field together with its index and its brain run.
"""

from __future__ import annotations

import logging
from typing import Iterable

logger = logging.getLogger("classlab")


def _single_field_indexes(dataset) -> dict[str, str]:
    """``{field: index name}`` of the single-field indexes of the samples collection."""
    out = {}
    for name, info in dataset.get_index_information().items():
        key = info.get("key") or []
        if len(key) == 1:
            out.setdefault(key[0][0], name)
    return out


def ensure_score_indexes(dataset, fields: Iterable[str]) -> list[str]:
    """Creates an index on each of ``fields`` that has none (idempotent).

    Args:
        dataset: the dataset (or a view of it) whose score fields to index
        fields: score field names (``None`` entries are skipped)

    Returns:
        the fields that got a new index (empty when all were indexed already)
    """
    dataset = getattr(dataset, "_dataset", dataset)
    have = _single_field_indexes(dataset)
    created = []
    for field in dict.fromkeys(f for f in fields if f):
        if field not in have:
            dataset.create_index(field)
            created.append(field)
    if created:
        logger.info("indexed score field(s) %s (sortable in the App)", ", ".join(created))
    return created


def drop_score_indexes(dataset, fields: Iterable[str]) -> list[str]:
    """Drops the single-field index of each of ``fields`` that has one; returns those fields."""
    dataset = getattr(dataset, "_dataset", dataset)
    have = _single_field_indexes(dataset)
    dropped = []
    for field in dict.fromkeys(f for f in fields if f):
        if field in have:
            dataset.drop_index(have[field])
            dropped.append(field)
    return dropped


def delete_score_fields(dataset, fields: Iterable[str]) -> list[str]:
    """Deletes score fields with their index and their brain run (when one has that key).

    MongoDB keeps an index when its field is unset, so the index goes first.

    Returns:
        the fields deleted (those that existed)
    """
    dataset = getattr(dataset, "_dataset", dataset)
    fields = [f for f in dict.fromkeys(fields) if f and dataset.has_field(f)]
    drop_score_indexes(dataset, fields)
    runs = set(dataset.list_brain_runs())
    for field in fields:
        if field in runs:
            dataset.delete_brain_run(field)
        if dataset.has_field(field):  # a brain run's cleanup may have deleted it
            dataset.delete_sample_field(field)
    return fields
