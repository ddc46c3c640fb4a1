"""Plant models: the simulated physics (kiln, crucible, chamber, arm, PID) the sims step by dt."""
