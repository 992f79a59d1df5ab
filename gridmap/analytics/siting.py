"""Gaps and new sites: greedy maximal covering.

Given a kind, the minutes and k, pick k candidate sites one at a time, each time the one
whose circle adds the most still-uncovered people (buildings on the network only). The
candidates are a list of lon/lat positions, every road node, or the street nodes of the
uncovered buildings; more than ``max_candidates`` are sampled evenly (and said so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.analytics.coverage import TOLERANCE_M, CoverageModel, Sites
from gridmap.analytics.errors import ParameterError
from gridmap.analytics.params import VULNERABLE

#: Candidate sources per batched Dijkstra call.
BATCH = 64


@dataclass(frozen=True)
class Suggestion:
    """One suggested site: its rank, position, and what it adds (people, buildings,
    vulnerable people) on top of the sites before it; coverage % after adding it."""

    rank: int
    lon: float
    lat: float
    node: int
    gain_population: int
    gain_buildings: int
    gain_vulnerable: int
    covered_pct_after: float


@dataclass(frozen=True)
class SitingResult:
    """The suggestions, coverage % before them, and how many candidates were evaluated."""

    suggestions: list[Suggestion]
    covered_pct_before: float
    candidates: int
    candidates_total: int

    @property
    def sampled(self) -> bool:
        return self.candidates < self.candidates_total


def _candidates(
    model: CoverageModel, candidates: str | np.ndarray, uncovered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(street node, offset m) per candidate, deduplicated by node (smallest offset)."""
    b = model.buildings
    if isinstance(candidates, str):
        if candidates == "nodes":
            nodes, offsets = np.arange(model.graph.n_nodes), np.zeros(model.graph.n_nodes)
        elif candidates == "buildings":
            nodes, offsets = b.node[uncovered], b.snap[uncovered]
        else:
            raise ParameterError(f"Unknown candidates {candidates!r}: nodes, buildings or a list.")
    else:
        lonlat = np.asarray(candidates, float).reshape(-1, 2)
        nodes, offsets = model.graph.snap(model.graph.to_local(lonlat[:, 0], lonlat[:, 1]))
        near = offsets <= model.params.max_snap_m
        nodes, offsets = nodes[near], offsets[near]
    order = np.lexsort((offsets, nodes))
    nodes, offsets = nodes[order], offsets[order]
    first = np.r_[True, nodes[1:] != nodes[:-1]] if len(nodes) else np.zeros(0, bool)
    return nodes[first], offsets[first]


def suggest_sites(
    model: CoverageModel,
    kind: str,
    k: int,
    minutes: float,
    candidates: str | np.ndarray = "buildings",
    *,
    sites: Sites | None = None,
    max_candidates: int = 4000,
) -> SitingResult:
    """The k sites (greedy) adding the most covered people within ``minutes`` for ``kind``."""
    if not 1 <= k <= 100:
        raise ParameterError(f"k = {k}: ask for 1 to 100 new sites.")
    reach = model.params.reach_m(minutes) + TOLERANCE_M
    if minutes > model.params.minutes[-1]:
        raise ParameterError(f"{minutes} min is beyond the largest circle computed.")
    walk = model.walk(kind, sites)
    b = model.buildings
    population = b.frame["population"].to_numpy().astype(float)
    vulnerable = b.frame[list(VULNERABLE)].to_numpy().sum(axis=1)
    total = population.sum()
    covered = walk <= reach
    uncovered = model.on_network & ~covered
    ub = np.flatnonzero(uncovered)
    nodes, offsets = _candidates(model, candidates, uncovered)
    total_candidates = len(nodes)
    if total_candidates > max_candidates:
        keep = np.unique(np.linspace(0, total_candidates - 1, max_candidates).astype(int))
        nodes, offsets = nodes[keep], offsets[keep]
    before = 100.0 * population[covered].sum() / total if total else 0.0
    if len(ub) == 0 or len(nodes) == 0:
        return SitingResult([], round(float(before), 2), len(nodes), total_candidates)
    target_node, slack = b.node[ub], reach - b.snap[ub]
    blocks = []
    for start in range(0, len(nodes), BATCH):
        chunk = nodes[start : start + BATCH]
        dist = np.atleast_2d(
            csgraph.dijkstra(model.graph.matrix, directed=True, indices=chunk, limit=reach)
        )
        hit = dist[:, target_node] + offsets[start : start + BATCH, None] <= slack[None, :]
        blocks.append(sparse.csr_matrix(hit))
    cover = sparse.vstack(blocks).tocsr()
    weight = population[ub].copy()
    vul = vulnerable[ub]
    taken = np.zeros(len(ub), bool)  # uncovered buildings a chosen site now covers
    got = population[covered].sum()
    out: list[Suggestion] = []
    for rank in range(1, k + 1):
        gains = cover @ weight
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        reached = cover.indices[cover.indptr[best] : cover.indptr[best + 1]]
        fresh = reached[~taken[reached]]
        taken[fresh] = True
        weight[fresh] = 0.0
        got += float(gains[best])
        node = int(nodes[best])
        lon, lat = model.graph.lonlat[node]
        out.append(
            Suggestion(
                rank=rank,
                lon=round(float(lon), 6),
                lat=round(float(lat), 6),
                node=node,
                gain_population=round(gains[best]),
                gain_buildings=len(fresh),
                gain_vulnerable=int(vul[fresh].sum()),
                covered_pct_after=round(float(100.0 * got / total), 2) if total else 0.0,
            )
        )
    return SitingResult(out, round(float(before), 2), len(nodes), total_candidates)
