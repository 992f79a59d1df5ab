"""The case taxonomy as data: categories, subcategories, priorities, time limits and
handling types, read from a TOML file (setting ``cases_taxonomy``) and checked on load."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from gridmap.cases.errors import TaxonomyError

SLUG = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
HANDLING_TYPES = ("reply", "self_handle", "transfer")
PRIORITIES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}


@dataclass(frozen=True)
class Subcategory:
    """A case type; its slug is also the Open311 service_code."""

    slug: str
    zh: str
    en: str
    category: str
    priority: int
    sla_hours: float
    handling_type: str


@dataclass(frozen=True)
class Category:
    """A top-level case category with its defaults and subcategories."""

    slug: str
    zh: str
    en: str
    priority: int
    sla_hours: float
    handling_type: str
    subcategories: tuple[Subcategory, ...]


@dataclass(frozen=True)
class Taxonomy:
    """All categories, looked up by slug (or by Chinese/English name when importing)."""

    categories: tuple[Category, ...]
    handling_names: dict[str, tuple[str, str]]
    source: str

    @cached_property
    def by_slug(self) -> dict[str, Category]:
        return {c.slug: c for c in self.categories}

    @cached_property
    def subcategories(self) -> dict[str, Subcategory]:
        return {s.slug: s for c in self.categories for s in c.subcategories}

    @cached_property
    def _category_keys(self) -> dict[str, Category]:
        return _keys(self.categories)

    @cached_property
    def _subcategory_keys(self) -> dict[str, Subcategory]:
        return _keys(tuple(self.subcategories.values()))

    def category(self, key: str) -> Category | None:
        """The category with this slug, Chinese name or English name (case-insensitive)."""
        found = self._category_keys.get(key)
        return found if found is not None else self._category_keys.get(key.strip().casefold())

    def subcategory(self, key: str) -> Subcategory | None:
        """The subcategory with this slug, Chinese name or English name."""
        found = self._subcategory_keys.get(key)
        return found if found is not None else self._subcategory_keys.get(key.strip().casefold())


def _keys(items):
    """Lookup of items by slug and by casefolded Chinese and English name."""
    out = {}
    for item in items:
        for k in (item.en.casefold(), item.zh.casefold(), item.slug):
            out[k] = item
    return out


def _fail(source: str, where: str, message: str) -> TaxonomyError:
    return TaxonomyError(
        f"Taxonomy {source}: {where}: {message}",
        hint="fix the file, or point GRIDMAP_CASES_TAXONOMY at a valid one",
    )


def _text(source: str, where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, where, f"'{key}' must be a non-empty string")
    return value.strip()


def _defaults(
    source: str, where: str, table: dict[str, Any], parent: dict[str, Any] | None
) -> tuple[int, float, str]:
    parent = parent or {}
    priority = table.get("priority", parent.get("priority"))
    if not isinstance(priority, int) or isinstance(priority, bool) or priority not in PRIORITIES:
        raise _fail(source, where, "'priority' must be an integer 1 (urgent) … 4 (low)")
    sla = table.get("sla_hours", parent.get("sla_hours"))
    if not isinstance(sla, int | float) or isinstance(sla, bool) or not 0 < sla <= 24 * 366:
        raise _fail(source, where, "'sla_hours' must be a number of hours > 0 and ≤ 8784")
    handling = table.get("handling_type", parent.get("handling_type"))
    if handling not in HANDLING_TYPES:
        raise _fail(source, where, f"'handling_type' must be one of {', '.join(HANDLING_TYPES)}")
    return priority, float(sla), handling


def parse_taxonomy(data: dict[str, Any], source: str = "<data>") -> Taxonomy:
    """Build and check a taxonomy from parsed TOML; a TaxonomyError names the first fault."""
    if data.get("version") != 1:
        raise _fail(source, "top level", "'version = 1' is required")
    raw_handling = data.get("handling_types", {})
    handling: dict[str, tuple[str, str]] = {}
    for key in HANDLING_TYPES:
        entry = raw_handling.get(key)
        if not isinstance(entry, dict):
            raise _fail(source, "handling_types", f"'{key}' needs zh and en names")
        handling[key] = (
            _text(source, f"handling_types.{key}", entry, "zh"),
            _text(source, f"handling_types.{key}", entry, "en"),
        )
    raw = data.get("categories")
    if not isinstance(raw, list) or not raw:
        raise _fail(source, "top level", "at least one [[categories]] table is required")
    seen: set[str] = set()
    categories = []
    for i, cat in enumerate(raw, 1):
        where = f"category #{i}"
        if not isinstance(cat, dict):
            raise _fail(source, where, "must be a table")
        slug = _text(source, where, cat, "slug")
        where = f"category '{slug}'"
        if not SLUG.match(slug):
            raise _fail(source, where, "slug must be lower-case letters, digits and _ (2–48)")
        if slug in seen:
            raise _fail(source, where, "slug is used twice")
        seen.add(slug)
        priority, sla, handling_type = _defaults(source, where, cat, None)
        subs = []
        for j, sub in enumerate(cat.get("subcategories", []), 1):
            swhere = f"{where} subcategory #{j}"
            if not isinstance(sub, dict):
                raise _fail(source, swhere, "must be a table")
            sslug = _text(source, swhere, sub, "slug")
            swhere = f"subcategory '{sslug}'"
            if not SLUG.match(sslug):
                raise _fail(source, swhere, "slug must be lower-case letters, digits and _")
            if sslug in seen:
                raise _fail(source, swhere, "slug is used twice (slugs are unique file-wide)")
            seen.add(sslug)
            sp, ss, sh = _defaults(source, swhere, sub, cat)
            subs.append(
                Subcategory(
                    sslug,
                    _text(source, swhere, sub, "zh"),
                    _text(source, swhere, sub, "en"),
                    slug,
                    sp,
                    ss,
                    sh,
                )
            )
        if not subs:
            raise _fail(source, where, "needs at least one subcategory")
        categories.append(
            Category(
                slug,
                _text(source, where, cat, "zh"),
                _text(source, where, cat, "en"),
                priority,
                sla,
                handling_type,
                tuple(subs),
            )
        )
    return Taxonomy(tuple(categories), handling, source)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check a taxonomy TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaxonomyError(
            f"Taxonomy file {path} does not exist",
            hint="set GRIDMAP_CASES_TAXONOMY to an existing TOML file",
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(str(path), "syntax", str(exc)) from exc
    return parse_taxonomy(data, str(path))


@lru_cache(maxsize=4)
def _cached(path: Path, mtime: float) -> Taxonomy:
    return load_taxonomy(path)


def get_taxonomy(path: Path | None = None) -> Taxonomy:
    """The configured taxonomy, re-read when the file changes."""
    from gridmap.settings import get_settings

    path = (path or get_settings().cases_taxonomy).expanduser().resolve()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return load_taxonomy(path)  # raises the clear error
    return _cached(path, mtime)
