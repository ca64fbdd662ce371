"""Base classes of the API model: each oVirt type is declared once, as typed fields.

The XML and JSON codecs, the OpenAPI schema, links and routes are all derived from these
declarations (see ``virtfleet.engine.api``), the way oVirt's own API model drives its server
and SDKs. Field names are oVirt's element names; class variables carry the XML tags.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ApiStruct(BaseModel):
    """A structured value without identity (``cpu``, ``topology``, ``version``...).

    Unknown elements are ignored, as oVirt does, so that clients sending fields this engine
    does not model yet keep working; wrong values of known fields are still refused.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_assignment=False)

    xml_tag: ClassVar[str] = ""


class ApiObject(ApiStruct):
    """An identified object: ``id`` and ``href`` are XML attributes, the rest are elements."""

    xml_collection: ClassVar[str] = ""

    id: str | None = None
    href: str | None = None
    name: str | None = None
    description: str | None = None
    comment: str | None = None

    def ref(self) -> dict[str, Any]:
        """The minimal reference other objects embed (``<cluster id=".." href=".."/>``)."""
        return {"id": self.id, "href": self.href}


def list_item_tag(tag: str) -> dict[str, Any]:
    """Field metadata naming the element of each item of a list of plain values."""
    return {"xml_item": tag}
