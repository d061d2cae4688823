"""pinnit: physics-informed neural networks with first-class initializers and activations."""
__version__ = "0.1.0"

from .config import RunConfig, load_config, parse_config  # noqa: E402
from .errors import ConfigError, PinnitError  # noqa: E402
from .run import RunResult, assemble, resume, run  # noqa: E402

__all__ = ["ConfigError", "PinnitError", "RunConfig", "RunResult", "assemble", "load_config", "parse_config",
           "resume", "run", "__version__"]
