"""The base of the domain XML element classes and their shared helpers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod


class XmlElement(ABC):
    """Something that renders as one XML element."""

    @abstractmethod
    def element(self) -> ET.Element:
        """The element for this object, with its children."""


def text_element(tag: str, text: str, **attrib: str) -> ET.Element:
    """``<tag attrib...>text</tag>``; ElementTree escapes the text."""
    node = ET.Element(tag, attrib)
    node.text = text
    return node


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
