#!/usr/bin/env python3
"""Turns the ALAS JSON records of $VIGIL_TESTDATA/vulndb/amazon/<release>/
back into the updateinfo.xml they were converted from, field by field:
id, title, issued and updated dates, severity, description, references
(href, id, type, title) and packages (name, epoch, version, release, arch,
filename). The <update> attributes, which the JSON does not keep, are set
as Amazon's repositories write them (status="final", type="security",
from and author linux-security@amazon.com, version="1.4").

Writes amazon/2/updateinfo.xml.gz (gzip, as repositories publish it,
mtime 0 so the output is reproducible) and amazon/2023/updateinfo.xml.

    python3 convert.py /work/shared/testdata/vulndb/amazon
"""
import glob
import gzip
import json
import os
import sys
from xml.sax.saxutils import escape, quoteattr


def update(rec):
    out = [
        '<update author="linux-security@amazon.com" from="linux-security@amazon.com" '
        'status="final" type="security" version="1.4">',
        "<id>%s</id>" % escape(rec["id"]),
        "<title>%s</title>" % escape(rec["title"]),
        "<issued date=%s />" % quoteattr(rec["issued"]["date"]),
        "<updated date=%s />" % quoteattr(rec["updated"]["date"]),
        "<severity>%s</severity>" % escape(rec["severity"]),
    ]
    if "description" in rec:  # some records have none
        out.append("<description>%s</description>" % escape(rec["description"]))
    out += [
        "<references>",
    ]
    for ref in rec.get("references") or []:
        out.append(
            "<reference href=%s id=%s title=%s type=%s />"
            % (
                quoteattr(ref.get("href", "")),
                quoteattr(ref.get("id", "")),
                quoteattr(ref.get("title", "")),
                quoteattr(ref.get("type", "")),
            )
        )
    out.append("</references>")
    out.append('<pkglist><collection short="amazon-linux"><name>Amazon Linux</name>')
    for p in rec.get("packages") or []:
        out.append(
            "<package arch=%s epoch=%s name=%s release=%s version=%s><filename>%s</filename></package>"
            % (
                quoteattr(p["arch"]),
                quoteattr(p["epoch"]),
                quoteattr(p["name"]),
                quoteattr(p["release"]),
                quoteattr(p["version"]),
                escape(p["filename"]),
            )
        )
    out.append("</collection></pkglist></update>")
    return "".join(out)


def document(release_dir):
    recs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(release_dir, "*.json")))]
    body = "\n".join(update(r) for r in recs)
    return ('<?xml version="1.0" ?>\n<updates>\n' + body + "\n</updates>\n").encode("utf-8")


def main():
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "amazon", "2"), exist_ok=True)
    os.makedirs(os.path.join(here, "amazon", "2023"), exist_ok=True)
    with open(os.path.join(here, "amazon", "2", "updateinfo.xml.gz"), "wb") as f:
        f.write(gzip.compress(document(os.path.join(src, "2")), mtime=0))
    with open(os.path.join(here, "amazon", "2023", "updateinfo.xml"), "wb") as f:
        f.write(document(os.path.join(src, "2023")))


if __name__ == "__main__":
    main()
