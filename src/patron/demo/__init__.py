"""The deterministic synthetic shop (and, later, the demo pipeline built on it)."""

from patron.demo.generator import DemoFiles, generate_shop

__all__ = ["DemoFiles", "generate_shop"]
