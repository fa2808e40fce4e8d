"""Who is reading: every read in `models/` takes a Viewer, so county scope is enforced where data is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "leader", "analyst", "county"]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The reader's role and, for a county bureau, its own region code."""

    role: Role
    region_code: str | None = None

    def __post_init__(self) -> None:
        if self.role == "county" and not self.region_code:
            raise ValueError("a county viewer needs its region_code")

    @classmethod
    def city_wide(cls) -> Viewer:
        """A read-only reader of everything (leadership)."""
        return cls(role="leader")

    def can_see_detail(self, region_code: str) -> bool:
        """Case- and ticket-level detail: everyone but a county bureau sees every region."""
        return self.role != "county" or self.region_code == region_code
