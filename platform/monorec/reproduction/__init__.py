"""The paper's experiments end to end (`jobs/reproduce.py`): plan, run, publish `results/`."""

from monorec.reproduction.page import render_page, write_page
from monorec.reproduction.plan import Variant, cell_name, cell_plan
from monorec.reproduction.runner import reproduce

__all__ = ["Variant", "cell_name", "cell_plan", "render_page", "reproduce", "write_page"]
