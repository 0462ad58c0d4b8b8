"""Output serializers rendered without building their fields anew for every object.

DRF deep-copies a serializer's declared fields each time one is made: for a
refund answer (`RefundOutput`, about sixty fields with its nested ones) that
copy was most of the time rendering took, more than reading the refund
(benchmarks/results/profile-api-*.txt). An output serializer's
`to_representation` keeps nothing between calls — each field reads the
object and writes its value — so one serializer per class and thread
renders every object, and the answer is the same dict `.data` gives.

For output serializers without context only: an input serializer keeps the
data it validates, and one with context would share it.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

_made = threading.local()


def rendered(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """`serializer_class(instance).data`, from this thread's serializer of that class."""
    made: dict[type, serializers.Serializer] = _made.__dict__.setdefault("serializers", {})
    serializer = made.get(serializer_class)
    if serializer is None:
        serializer = made[serializer_class] = serializer_class()
    return serializer.to_representation(instance)
