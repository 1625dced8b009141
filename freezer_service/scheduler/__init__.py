"""freezer-scheduler: registers this node, polls its jobs, runs them when due, reports.

Modules: :mod:`.triggers` and :mod:`.cron` (when a job is due), :mod:`.machine`
(the job state machine), :mod:`.source` (the job source interface) with
:mod:`.api` (the Freezer API) and :mod:`.files` (``--no-api``), :mod:`.core`
(the tick loop), :mod:`.execution` (one run of a job), :mod:`.runner` and
:mod:`.child` (actions in child processes, the crash journal), :mod:`.daemon`
and :mod:`.config`.  See docs/scheduler.md.
"""
