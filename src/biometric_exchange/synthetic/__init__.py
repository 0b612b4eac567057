"""Seeded synthetic data: templates, people and the CHL/PAN demo dataset."""

from biometric_exchange.synthetic.dataset import (
    BORDER_POINTS,
    DemoDataset,
    GroundTruth,
    build_demo_dataset,
    window_start,
)
from biometric_exchange.synthetic.people import (
    DOCUMENT_PREFIX,
    EXTRA_REGIONAL_MIX,
    NATIONALITY_MIX,
    REGIONAL_MIX,
    FakerPool,
    draw_nationality,
    generate_person,
)
from biometric_exchange.synthetic.templates import TemplateModel, distance

__all__ = [
    "BORDER_POINTS",
    "DOCUMENT_PREFIX",
    "EXTRA_REGIONAL_MIX",
    "NATIONALITY_MIX",
    "REGIONAL_MIX",
    "DemoDataset",
    "FakerPool",
    "GroundTruth",
    "TemplateModel",
    "build_demo_dataset",
    "distance",
    "draw_nationality",
    "generate_person",
    "window_start",
]
