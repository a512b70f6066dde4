"""Run a whole ByteNite job locally, exactly as the platform would.

``python -m bytenite_runtime.simulate request.json`` (or ``bytenite-simulate``): each
component runs as its own process with only the contract's environment, tasks run in
parallel with retries and timeouts, results are collected flat, and the job leaves a
report and per-component logs behind. See ``--help``.
"""

from ._job import run_job
from ._options import JobOptions, JobPlan

__all__ = ["JobOptions", "JobPlan", "run_job"]
