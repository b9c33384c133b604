# Reads an NVD CVE API 2.0 page with Python's json module and prints, as
# JSON, what Vigil's nvd.Parse should return for it. Written from the NVD
# schema independently of the Go parser, so that the test compares two
# readings of the same file.
import json
import re
import sys
from datetime import date, datetime

with open(sys.argv[1], encoding="utf-8") as f:
    page = json.load(f)

KINDS = [("cvssMetricV40", "CVSS_V4"), ("cvssMetricV31", "CVSS_V3"),
         ("cvssMetricV30", "CVSS_V3"), ("cvssMetricV2", "CVSS_V2")]


def when(s):
    return datetime.fromisoformat(s).isoformat(timespec="milliseconds")


out = {
    "page": {
        "resultsPerPage": page["resultsPerPage"],
        "startIndex": page["startIndex"],
        "totalResults": page["totalResults"],
        "format": page["format"],
        "version": page["version"],
        "timestamp": when(page["timestamp"]),
    },
    "cves": [],
}
for item in page["vulnerabilities"]:
    cve = item["cve"]
    metrics = []
    for key, typ in KINDS:
        for m in cve.get("metrics", {}).get(key, []):
            data = m["cvssData"]
            metrics.append({
                "type": typ,
                "vector": data["vectorString"],
                "source": m["source"],
                "primary": m["type"] == "Primary",
                "version": data["version"],
                "baseScore": data["baseScore"],
                "baseSeverity": data.get("baseSeverity", m.get("baseSeverity", "")),
            })
    cwes = []
    for w in cve.get("weaknesses", []):
        for d in w["description"]:
            if re.fullmatch(r"CWE-\d+", d["value"]) and d["value"] not in cwes:
                cwes.append(d["value"])
    english = [d["value"] for d in cve["descriptions"] if d["lang"] == "en"]
    out["cves"].append({
        "id": cve["id"],
        "sourceIdentifier": cve.get("sourceIdentifier", ""),
        "published": when(cve["published"]),
        "lastModified": when(cve["lastModified"]),
        "status": cve.get("vulnStatus", ""),
        "rejected": cve.get("vulnStatus") == "Rejected",
        "description": english[0] if english else "",
        "cisaExploitAdd": date.fromisoformat(cve["cisaExploitAdd"]).isoformat() if "cisaExploitAdd" in cve else "",
        "metrics": metrics,
        "cwes": cwes,
        "references": [{"url": r["url"], "source": r.get("source", ""), "tags": r.get("tags", [])}
                       for r in cve["references"]],
    })
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
