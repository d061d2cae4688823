"""Studies: many runs of one config varied along axes, and their report (``pinnit study``, ``pinnit report``)."""
