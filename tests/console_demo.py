"""The demo's data for console tests: Chile and Panama opened in this process, their
synthetic watchlists and encounters exchanged through each other's handlers (as the
demo's nodes exchange them), a step-2 request from Panama pending at Chile, and the
drawn faces of Chile's own watchlist hit kept beside its records."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.console.app import build_app
from biometric_exchange.console.context import Console
from biometric_exchange.console.officers import add_officer
from biometric_exchange.console.server import Running, bind
from biometric_exchange.domain import AlertKind
from biometric_exchange.images import keep_face_image
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import request_details
from biometric_exchange.store.details import SentRequest
from biometric_exchange.store.officers import Role
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.faces import draw_face, identity_seed, save_face
from biometric_exchange.workspace import create_pair
from tests.wiring import drain, in_memory, worker

PASSWORD = "synthetic-demo-password"
OFFICERS = {"ana.rojas": Role.OFFICER, "luis.soto": Role.OFFICER, "marta.vidal": Role.SUPERVISOR}
SEED = 2017


@dataclass
class DemoPair:
    chile: Node
    panama: Node
    request: SentRequest
    """Panama's step-2 request, pending at Chile."""

    def close(self) -> None:
        for node in (self.chile, self.panama):
            node.database.close()


def _keep_faces(node: Node) -> None:
    """Draw one identity twice: the watchlist photo and the encounter capture of the
    node's own watchlist hit, kept as the node's synthetic images of those records."""
    alert = next(
        a
        for a in node.alerts.list(kind=AlertKind.WATCHLIST_HIT)
        if a.partner is None and a.encounter_id and a.watchlist_entry_id
    )
    assert alert.encounter_id and alert.watchlist_entry_id
    identity = identity_seed(SEED, 7)
    with tempfile.TemporaryDirectory() as scratch:
        for kind, record_id, capture in (
            ("watchlist", alert.watchlist_entry_id, 0),
            ("encounters", alert.encounter_id, 2),
        ):
            drawn = Path(scratch) / f"{record_id}.png"
            save_face(draw_face(identity, capture), drawn, identity=identity, capture=capture)
            keep_face_image(node.node_dir, kind, record_id, drawn)


def build_demo(workdir: Path, dataset: DemoDataset) -> DemoPair:
    chile_dir, panama_dir = create_pair(workdir)
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    nodes = {"CHL": chile, "PAN": panama}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
        for encounter in dataset.encounters[country]:
            enrol(node, encounter)
    drain(worker(panama, chile), panama)
    drain(worker(chile, panama), chile)
    reference = next(a.hit_reference for a in panama.alerts.partner_hits("CHL") if a.hit_reference)
    request = request_details(
        panama.link("CHL"),
        in_memory(chile, "PAN"),
        hit_reference=reference,
        purpose="anti_trafficking",
        justification="Synthetic demo: confirm the identity before a referral",
        officer_id="PAN-OFFICER-1",
        fields=("names", "document_numbers", "watchlist_category"),
    )
    for officer_id, role in OFFICERS.items():
        add_officer(chile, officer_id, PASSWORD, role=role)
    _keep_faces(chile)
    return DemoPair(chile, panama, request)


@contextmanager
def serving_console(console: Console) -> Iterator[Running]:
    """``console`` served by uvicorn in this process on a loopback port the OS picks."""
    with Running(build_app(console, notifications=False), bind("127.0.0.1", 0)) as running:
        yield running


LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
