"""One run of one config: check it all the way (:mod:`.configs`, :mod:`.validate`, :mod:`.resolve`), assemble
the problem, network and loss, train, score and write the run directory (:mod:`.pipeline`)."""
from .configs import load_config, parse_config
from .pipeline import Assembly, RunResult, assemble, resume, run

__all__ = ["Assembly", "RunResult", "assemble", "load_config", "parse_config", "resume", "run"]
