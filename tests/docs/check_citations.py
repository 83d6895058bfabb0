#!/usr/bin/python3
"""Every note the sources cite must be followable inside the repository (ctest docs.citations).

    /usr/bin/python3 tests/docs/check_citations.py [REPO_ROOT]

Scans the source folders (and the root CMakeLists.txt / Makefile) for citations of Markdown notes,
i.e. any path ending in ".md", and reports, as file:line, each one that:
  - is not of the form docs/<name>.md (e.g. a note outside the repository, or a bare note name);
  - names a docs/<name>.md that does not exist;
  - is followed by a section number (the section sign or the word "section", then N or N.M, or a range
    N-M) that has no "## N." heading in that note. Every section number between this citation and
    the next one on the same line belongs to it ("docs/x.md §2; names: §3").
It also reports absolute paths into a developer's machine (/work/, /root/, /home/...).
Not citations, so never reported: the files the code writes or names that are not notes (report.md, llamacpp_agreement.md,
README.md), URLs, and upstream files written as owner/repo:path (ggml-org/ggml:docs/gguf.md).
Exit status 1 when anything is reported, or when nothing was scanned (a wrong root).
"""
import os
import re
import sys

SCAN_DIRS = ["autograd", "layers", "optim", "data", "fakequant", "ptq", "trainers", "exporters", "cli",
             "tests", "tools", "bench", "examples", "scripts", "io", "docs"]
ROOT_FILES = ["CMakeLists.txt", "Makefile"]
SKIP_DIRS = {"node_modules", ".git", "__pycache__", ".node"}
EXTENSIONS = (".cpp", ".cc", ".c", ".h", ".hpp", ".py", ".sh", ".cmake", ".txt", ".proto", ".mjs", ".js",
              ".pbtxt", ".md")
# Markdown names that are not notes: the study's output file, and READMEs (which describe a folder).
ALLOWED_NAMES = {"report.md", "README.md", "llamacpp_agreement.md"}

URL = re.compile(r"\bhttps?://\S+")
UPSTREAM = re.compile(r"\b[\w.-]+/[\w.-]+:(?:[\w.-]+/)*[\w.-]+\.md\b")
CITATION = re.compile(r"(?<![\w./-])((?:/|(?:\.\./)+)?(?:[\w.-]+/)*[\w.-]*[\w-]\.md)\b")
SECTION = re.compile(r"(?:§\s?|\bsections? )(\d+)(?:\.\d+)?(?:\s?[-–]\s?§?(\d+)(?:\.\d+)?)?")
# Built from pieces so this file does not contain the literal paths it looks for.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:" + "|".join(["work", "root", "home"]) + r")/")
HEADING = re.compile(r"^## (\d+)\.", re.MULTILINE)


def source_files(root, self_path):
    for name in ROOT_FILES:
        if os.path.isfile(os.path.join(root, name)):
            yield name
    for top in SCAN_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
            for f in sorted(filenames):
                path = os.path.join(dirpath, f)
                if (f.endswith(EXTENSIONS) or f == "Makefile") and os.path.abspath(path) != self_path:
                    yield os.path.relpath(path, root)


class Notes:
    """docs/<name>.md -> the set of its "## N." section numbers (None when the file is missing)."""

    def __init__(self, root):
        self.root, self.cache = root, {}

    def sections(self, cited):
        if cited not in self.cache:
            path = os.path.join(self.root, cited)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    self.cache[cited] = {int(n) for n in HEADING.findall(f.read())}
            else:
                self.cache[cited] = None
        return self.cache[cited]


def check_line(line, notes):
    """(citation, problem) pairs for one line, plus the number of note citations seen."""
    problems, seen = [], 0
    text = UPSTREAM.sub(" ", URL.sub(" ", line))
    if MACHINE_PATH.search(text):
        problems.append((MACHINE_PATH.search(text).group(0), "absolute path on a developer's machine"))
    matches = list(CITATION.finditer(text))
    for k, m in enumerate(matches):
        cited = m.group(1)
        if os.path.basename(cited) in ALLOWED_NAMES:
            continue
        seen += 1
        if not cited.startswith("docs/"):
            hint = "docs/" + os.path.basename(cited)
            problems.append((cited, f"a cited note must live in docs/ and be cited as docs/<name>.md"
                                    f" (e.g. {hint})"))
            continue
        sections = notes.sections(cited)
        if sections is None:
            problems.append((cited, "no such file in the repository"))
            continue
        end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
        for s in SECTION.finditer(text, m.end(), end):
            for number in (s.group(1), s.group(2)):
                if number is not None and int(number) not in sections:
                    problems.append((f"{cited} {s.group(0).strip()}",
                                     f"{cited} has no '## {number}.' heading"
                                     f" (it has {', '.join(map(str, sorted(sections))) or 'none'})"))
    return problems, seen


def main(argv):
    here = os.path.abspath(__file__)
    root = os.path.abspath(argv[0] if argv else os.path.join(os.path.dirname(here), "..", ".."))
    notes = Notes(root)
    files = citations = 0
    problems = []
    for rel in source_files(root, here):
        files += 1
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                found, seen = check_line(line, notes)
                citations += seen
                problems += [f"{rel}:{number}: {cited}: {why}" for cited, why in found]
    for p in problems:
        print(p)
    print(f"docs.citations: {files} files, {citations} note citations, {len(problems)} problems ({root})")
    if files == 0 or citations == 0:
        print("docs.citations: nothing to check; is the repository root right?")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
