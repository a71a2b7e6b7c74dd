"""Every relative link in README.md and docs/*.md resolves to a file in this repository: a fresh clone
has nothing beside it (issue 8: the README linked ../shared/STYLE.md)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("*/README.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def relative_links(doc: Path) -> list[str]:
    links = [a or b for a, b in LINK.findall(doc.read_text())]
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", link)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(doc):
    for link in relative_links(doc):
        target = (doc.parent / link.split("#", 1)[0]).resolve()
        assert target.is_relative_to(ROOT), f"{doc.name} links {link}, outside the repository"
        assert target.exists(), f"{doc.name} links {link}, which doesn't exist"


def test_readme_names_only_folders_that_exist():
    readme = (ROOT / "README.md").read_text()
    for folder in re.findall(r"`((?:templates|tests|static|docs|billing|scheduling|bench)/[\w/-]*)`", readme):
        assert (ROOT / folder).exists(), f"README.md names {folder}, which doesn't exist"
    templates = re.search(r"\*\*`templates/`\*\*:(.*?);", readme, re.S).group(1)
    for name in re.findall(r"`([\w.-]+/?)`", templates):
        assert (ROOT / "templates" / name).exists(), f"README.md names templates/{name}, which doesn't exist"
