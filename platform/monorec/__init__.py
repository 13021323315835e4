"""monorec: interpretable, controllable two-tower recommenders via sparse autoencoders."""

from monorec.errors import ConfigError, DataError, MonorecError, UnknownIdError

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "MonorecError", "UnknownIdError", "__version__"]
