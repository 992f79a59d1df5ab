"""What the stages of the demo city share: one :class:`City`, filled stage by stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from gridmap.demo.city.base import TZ, Scale


@dataclass
class City:
    """The city being generated: its parameters, then what each stage leaves for the next
    ones (set by the stage named in the comment; reading a field before is an error)."""

    scale: Scale
    seed: int
    anchor: datetime
    # layout: road-node lattice [j, i] in metres and lon/lat, grid blocks kept
    anchor_s: int = field(init=False)
    grid_keep: np.ndarray = field(init=False)
    xy: np.ndarray = field(init=False)
    ll: np.ndarray = field(init=False)
    nx: int = field(init=False)
    ny: int = field(init=False)
    m_per_deg: np.ndarray = field(init=False)
    # areas: grids (by position g), communities, streets, districts
    g_i: np.ndarray = field(init=False)
    g_j: np.ndarray = field(init=False)
    g_comm: np.ndarray = field(init=False)
    g_seq: np.ndarray = field(init=False)
    g_code: np.ndarray = field(init=False)
    g_name: np.ndarray = field(init=False)
    g_poly: np.ndarray = field(init=False)
    comm_street: np.ndarray = field(init=False)
    street_district: np.ndarray = field(init=False)
    block_grid: np.ndarray = field(init=False)
    d_name: list[str] = field(init=False)
    s_name: list[str] = field(init=False)
    c_name: list[str] = field(init=False)
    d_code: list[str] = field(init=False)
    s_code: list[str] = field(init=False)
    c_code: list[str] = field(init=False)
    c_poly: np.ndarray = field(init=False)
    s_poly: np.ndarray = field(init=False)
    d_poly: np.ndarray = field(init=False)
    city: shapely.Geometry = field(init=False)
    # people: user ids, names and the users frame
    w_comm: np.ndarray = field(init=False)
    lead_user: np.ndarray = field(init=False)
    worker_user: np.ndarray = field(init=False)
    lead_name: np.ndarray = field(init=False)
    lead_phone: np.ndarray = field(init=False)
    lead_username: np.ndarray = field(init=False)
    worker_username: np.ndarray = field(init=False)
    worker_name: np.ndarray = field(init=False)
    users_frame: pd.DataFrame = field(init=False)
    # roads: names and kinds per (line, segment), edges, node adjacency
    h_names: np.ndarray = field(init=False)
    h_kind: np.ndarray = field(init=False)
    v_names: np.ndarray = field(init=False)
    v_kind: np.ndarray = field(init=False)
    edge_src: np.ndarray = field(init=False)
    edge_dst: np.ndarray = field(init=False)
    edge_len: np.ndarray = field(init=False)
    edge_kind: np.ndarray = field(init=False)
    edge_name: np.ndarray = field(init=False)
    edge_coords: np.ndarray = field(init=False)
    nbr: np.ndarray = field(init=False)
    # buildings: parks, and each building's point, address and grid
    park_blocks: tuple[np.ndarray, np.ndarray] = field(init=False)
    b_ll: np.ndarray = field(init=False)
    b_addr: np.ndarray = field(init=False)
    b_grid: np.ndarray = field(init=False)
    b_block: tuple[np.ndarray, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None:
            self.anchor = self.anchor.replace(tzinfo=TZ)
        self.seed = int(self.seed)
        self.anchor_s = int(self.anchor.timestamp())
