"""The GeoAlchemy2 models mirror the tables the migrations create."""

from __future__ import annotations

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from gridmap.db import models
from gridmap.models import all_models

MODELS = all_models()


def test_every_table_has_a_model(engine: Engine) -> None:
    with engine.connect() as conn:  # partitions are read through their table's model
        parts = set(
            conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars()
        )
    tables = (
        set(inspect(engine).get_table_names())
        - parts
        - {
            "spatial_ref_sys",
            "gridmap_migration",
            "gridmap_function_file",
        }
    )
    assert tables == {m.__tablename__ for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__tablename__)
def test_model_columns_match_table(engine: Engine, model: type[models.Base]) -> None:
    db_cols = {c["name"]: c for c in inspect(engine).get_columns(model.__tablename__)}
    model_cols = {c.name: c for c in model.__table__.columns}
    assert set(model_cols) == set(db_cols)
    for name, col in model_cols.items():
        if not col.primary_key:
            assert col.nullable == db_cols[name]["nullable"], name
        if isinstance(col.type, Geometry):
            assert col.type.srid == 4326


def test_models_read_and_write(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.add(models.User(username="m_test", display_name="测试用户", role="planner"))
        s.flush()
        user = s.scalars(select(models.User).where(models.User.username == "m_test")).one()
        assert (user.display_name, user.active) == ("测试用户", True)
        s.rollback()
