"""What a fresh installation has, as in oVirt: Default data center and cluster, ovirtmgmt and
its vNIC profile, the Blank template, the root tag and ``admin@internal``."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, insert, select

from virtfleet.common import apimodel as m
from virtfleet.common.clock import Clock
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import ROOT, Options
from virtfleet.engine.services.clusters import ClusterService
from virtfleet.engine.services.datacenters import DataCenterService
from virtfleet.engine.services.system import ROOT_TAG_ID
from virtfleet.engine.services.templates import blank_template

log = logging.getLogger(__name__)

DEFAULT_NAME = "Default"
_MARK = "bootstrap.done"


def _done(conn: Connection) -> bool:
    key = tables.settings.c.key
    return conn.execute(select(key).where(key == _MARK)).first() is not None


def seed_defaults(database: Database, clock: Clock) -> bool:
    """Create the default objects once; a later start never brings back what users removed."""
    with database.read() as conn:
        if _done(conn):
            return False
    options = Options()
    with database.read() as conn:
        data_center = repos.data_centers.find_by_name(conn, DEFAULT_NAME)
        cluster = repos.clusters.find_by_name(conn, DEFAULT_NAME)
    # each object is looked up first, so a start interrupted half-way completes the set;
    # a new data center brings its ovirtmgmt network and vNIC profile along
    if data_center is None:
        data_center = DataCenterService(database).add(
            ROOT, m.DataCenter(name=DEFAULT_NAME, description="The default Data Center"), options
        )
    dc_ref = m.DataCenter(id=data_center.id)
    if cluster is None:
        ClusterService(database).add(
            ROOT,
            m.Cluster(
                name=DEFAULT_NAME, description="The default server cluster", data_center=dc_ref
            ),
            options,
        )
    with database.transaction() as conn:
        if repos.templates.find(conn, blank_template(clock).id or "") is None:
            repos.templates.insert(conn, blank_template(clock))
        if repos.tags.find(conn, ROOT_TAG_ID) is None:
            repos.tags.insert(conn, m.Tag(id=ROOT_TAG_ID, name="root", description="root"))
        conn.execute(insert(tables.settings).values(key=_MARK, value=True))
    log.info("seeded the default data center, cluster, network and Blank template")
    return True
