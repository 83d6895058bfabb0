"""Independent readers for the study report files, used by test_study_report.cpp.

  study_report_check.py svg FILE  -> JSON summary of the SVG (parsed with xml.etree, so invalid XML fails)
  study_report_check.py csv FILE  -> JSON list of rows as Python's csv module reads them
"""
import csv
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def summarize_svg(path):
    root = ET.parse(path).getroot()  # raises on malformed XML or bad entities
    assert root.tag == SVG + "svg", root.tag
    areas = [r for r in root.iter(SVG + "rect") if r.get("class") == "plot-area"]
    assert len(areas) == 1, "expected one plot-area rect, found %d" % len(areas)
    a = areas[0]
    left, top = float(a.get("x")), float(a.get("y"))
    right, bottom = left + float(a.get("width")), top + float(a.get("height"))

    def inside(x, y):
        return left <= x <= right and top <= y <= bottom

    circles = [[float(c.get("cx")), float(c.get("cy"))] for c in root.iter(SVG + "circle")]
    polylines = []
    for p in root.iter(SVG + "polyline"):
        polylines.append([[float(v) for v in pair.split(",")] for pair in p.get("points").split()])
    references = [l for l in root.iter(SVG + "line") if l.get("class") == "reference"]
    reference_y = [float(l.get("y1")) for l in references]
    outside = sum(not inside(x, y) for x, y in circles)
    outside += sum(not inside(x, y) for line in polylines for x, y in line)
    outside += sum(not (top <= y <= bottom) for y in reference_y)
    return {
        "area": [left, top, right, bottom],
        "circles": circles,
        "polylines": polylines,
        "dashed_polylines": sum(1 for p in root.iter(SVG + "polyline") if p.get("stroke-dasharray")),
        "reference_y": reference_y,
        "reference_dashed": all(l.get("stroke-dasharray") for l in references),
        "outside": outside,
        "texts": ["".join(t.itertext()) for t in root.iter(SVG + "text")],
        "titles": ["".join(t.itertext()) for t in root.iter(SVG + "title")],
    }


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    print(json.dumps(summarize_svg(path) if mode == "svg" else read_csv(path)))
