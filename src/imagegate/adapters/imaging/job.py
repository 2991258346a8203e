"""One render in progress: what the pipeline's steps pass along from decode to encode."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagegate.adapters.imaging.budget import Budget
from imagegate.core.models import Format, VariantOptions
from imagegate.core.render_plan import Geometry


@dataclass(slots=True)
class Job:
    """The state the render steps pass along. ``image`` is a ``pyvips.Image``."""

    data: bytes
    output: Format
    options: VariantOptions
    background: tuple[int, int, int]
    geometry: Geometry
    animated: bool  # frames kept: a strip of ``page-height`` tall frames
    progressive: bool  # JPEG only
    keep_gps: bool = False  # metadata=keep may give out GPS (the account opted in)
    budget: Budget = field(default_factory=Budget)
    image: Any = None
    keep: int = 0
