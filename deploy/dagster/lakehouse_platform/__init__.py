"""What the deployment adds around Dagster's own processes (webserver and daemon image).

- ``launcher``: the Docker run launcher, keeping exited run containers until their exit code,
  OOM flag and last log lines are in the run's failure message.
- ``supervisor``: the daemon container's first process; starts ``dagster-daemon run``, reconciles
  launches a crash cut short, restarts a daemon that stopped sending heartbeats, and removes
  finished run containers.
- ``sentinel``: a process of its own that tells an operator when the daemon or a code location is
  down, which the daemon's own alert sensors cannot.
"""
