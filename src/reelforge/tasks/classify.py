"""classification tasks: classify.train, classify.apply (tag proposals), classify.similar."""

from __future__ import annotations
