"""What a run leaves behind: the run directory (:mod:`.rundir`), the loss history (:mod:`.history`), the
scores against the reference (:mod:`.evaluation`) and the figures (:mod:`.plots`, public helpers shared by
every package that draws)."""
