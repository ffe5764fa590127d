"""A validator for the subset of XML Schema that tests/data/junit/junit.xsd is written in, with
xml.etree only (no XSD library is a dependency): global elements with complex types (mixed or
not), sequence and choice with minOccurs/maxOccurs, element references, attributes (required
or optional, no others allowed) of the types xs:string, xs:nonNegativeInteger, xs:decimal and
named restrictions of them with minInclusive.

A content model becomes a regular expression over the child elements' names, so a child out of
order, missing or repeated too often fails to match, as it fails an XSD validator.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
LEXICAL = {
    "xs:string": re.compile(r".*", re.DOTALL),
    "xs:nonNegativeInteger": re.compile(r"\+?\d+"),
    "xs:decimal": re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
}


class Schema:
    def __init__(self, path: Path):
        root = ET.parse(path).getroot()
        self.simple = {}
        for st in root.findall(f"{XS}simpleType"):
            restriction = st.find(f"{XS}restriction")
            facets = {f.tag.removeprefix(XS): f.get("value") for f in restriction}
            self.simple[st.get("name")] = (restriction.get("base"), facets)
        self.elements = {}
        for el in root.findall(f"{XS}element"):
            ct = el.find(f"{XS}complexType")
            body = [c for c in ct if c.tag in (f"{XS}sequence", f"{XS}choice")]
            pattern = self._particle(body[0]) if body else ""
            attrs = {
                a.get("name"): (a.get("type"), a.get("use", "optional"))
                for a in ct.iter(f"{XS}attribute")
            }
            self.elements[el.get("name")] = {
                "mixed": ct.get("mixed") == "true",
                "content": re.compile(pattern),
                "attributes": attrs,
            }

    def _particle(self, node) -> str:
        tag = node.tag.removeprefix(XS)
        if tag == "element":
            body = f"<{node.get('ref') or node.get('name')}>"
        elif tag == "sequence":
            body = "".join(self._particle(c) for c in node)
        elif tag == "choice":
            body = "|".join(self._particle(c) for c in node)
        else:
            raise ValueError(f"unsupported XSD particle {tag}")
        lo = int(node.get("minOccurs", "1"))
        hi = node.get("maxOccurs", "1")
        hi = "" if hi == "unbounded" else hi
        return f"(?:{body}){{{lo},{hi}}}"

    def _value_ok(self, type_name: str, value: str) -> bool:
        facets = {}
        while type_name in self.simple:
            type_name, more = self.simple[type_name]
            facets.update(more)
        if not LEXICAL[type_name].fullmatch(value):
            return False
        low = facets.get("minInclusive")
        return low is None or float(value) >= float(low)

    def errors(self, element: ET.Element, path: str = "") -> list[str]:
        where = f"{path}/{element.tag}"
        decl = self.elements.get(element.tag)
        if decl is None:
            return [f"{where}: element not declared"]
        found = []
        for name, (type_name, use) in decl["attributes"].items():
            value = element.get(name)
            if value is None:
                if use == "required":
                    found.append(f"{where}: required attribute {name} missing")
            elif not self._value_ok(type_name, value):
                found.append(f"{where}/@{name}: {value!r} is not a valid {type_name}")
        for name in element.attrib:
            if name not in decl["attributes"]:
                found.append(f"{where}/@{name}: attribute not declared")
        if not decl["mixed"]:
            texts = [element.text, *(c.tail for c in element)]
            if any(t and t.strip() for t in texts):
                found.append(f"{where}: text in an element whose content is elements only")
        children = "".join(f"<{c.tag}>" for c in element)
        if not decl["content"].fullmatch(children):
            found.append(f"{where}: children {[c.tag for c in element]} break its content model")
        for c in element:
            found += self.errors(c, where)
        return found


def validate(schema_path: Path, xml_text: str) -> list[str]:
    """Each way the document breaks the schema (empty when it is valid)."""
    return Schema(schema_path).errors(ET.fromstring(xml_text.encode("utf-8")))
