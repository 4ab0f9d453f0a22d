"""Features and labels to fitted pipelines and out-of-sample predictions."""

from __future__ import annotations
