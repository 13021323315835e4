"""The neuron explorer: a browser page over an SAE's neurons, served live or saved as one file."""

from monorec.explorer.page import explorer_html, write_explorer
from monorec.explorer.payload import explorer_payload

__all__ = ["explorer_html", "explorer_payload", "write_explorer"]
