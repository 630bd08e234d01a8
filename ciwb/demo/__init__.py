"""Realistic synthetic CodeBuild history in boto3's exact shapes, with what it planted."""

from ciwb.demo.generator import DEFAULT_END, DemoConfig, DemoHistory, DemoMetric, generate
from ciwb.demo.load import DemoSummary, history_batches, load_demo, planted_path_for
from ciwb.demo.logs import DemoLogStream
from ciwb.demo.planted import PlantedFacts

__all__ = [
    "DEFAULT_END",
    "DemoConfig",
    "DemoHistory",
    "DemoLogStream",
    "DemoMetric",
    "DemoSummary",
    "PlantedFacts",
    "generate",
    "history_batches",
    "load_demo",
    "planted_path_for",
]
