"""What the codecs need to know beyond the model itself: hrefs, links and expanded references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct

Link = tuple[str, str]


def _no_href(_obj: ApiObject) -> str | None:
    return None


def _no_links(_obj: ApiStruct) -> list[Link]:
    return []


@dataclass(frozen=True)
class View:
    """How to render objects: where they live and which nested objects to write in full.

    ``expand`` holds dotted field paths (``disk_attachments``, ``disk_attachments.disk``) whose
    nested objects are written in full instead of as ``id``/``href`` references.
    """

    href_of: Callable[[ApiObject], str | None] = _no_href
    links_of: Callable[[ApiStruct], list[Link]] = _no_links
    actions_of: Callable[[ApiStruct], list[Link]] = _no_links
    expand: frozenset[str] = field(default_factory=frozenset)

    def expands(self, path: str) -> bool:
        return path in self.expand

    def href(self, obj: ApiObject) -> str | None:
        return obj.href or self.href_of(obj)


PLAIN = View()
