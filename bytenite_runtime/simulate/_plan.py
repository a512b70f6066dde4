"""Resolve the command line into a JobPlan: the request, its template, the flags over
both, the components; and refuse an output that would replace what the job reads."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TemplateError
from ._args import apply_sets, override_config, params_flag, source_from_flag
from ._destination import check_destination
from ._options import JobPlan
from ._request import JobRequest, Params, Template, load_json, merge_request, parse, unknown_fields
from ._resolve import find_template, resolve, search_folders
from ._sources import (
    check_report,
    check_source,
    destination_folder,
    local_source,
    resolved,
)

__all__ = ["plan_job"]


def plan_job(args: argparse.Namespace) -> JobPlan:
    """Resolve the request, template, overrides and components into a JobPlan."""
    # Each is resolved below or when the job starts: a symbolic link loop is one line here.
    for what, given in (
        ("job request", args.request),
        ("--report", args.report),
        ("--secrets", args.secrets),
        ("--workdir", args.workdir),
        ("--user-cache", args.user_cache),
        ("--shared-cache", args.shared_cache),
    ):
        if given is not None:
            resolved(given, what)
    base = args.request.resolve().parent if args.request else Path.cwd()
    search = search_folders(args.search, base)
    request = JobRequest()
    warnings: list[str] = []
    if args.request is not None:
        doc = load_json(args.request, "job request")
        request = parse(JobRequest, doc, "request")
        warnings += unknown_fields(JobRequest, doc, "request")
    # Relative folder tags are relative to the file holding them.
    template_dir = base
    template_file: Path | None = None
    if args.template is not None:
        path = Path(args.template)
        # An id is letters, digits, '-' and '_': a name ending in .json or holding a
        # slash is a path, and a missing one is named as a file, not as an unknown id.
        is_path = path.suffix == ".json" or "/" in args.template or os.sep in args.template
        template_file = path if is_path else find_template(args.template, search)
    elif request.template is None and request.template_id is not None:
        template_file = find_template(request.template_id, search)
    if template_file is not None:
        doc = load_json(template_file, "template")
        template = parse(Template, doc, "template")
        warnings += unknown_fields(Template, doc, "template")
        template_dir = template_file.resolve().parent
    elif request.template is not None:
        template = request.template
    else:
        raise TemplateError(
            "no template: give templateId or template in the request, or --template"
        )
    template = merge_request(request, template)
    updates: dict[str, Any] = {}
    if args.source:
        updates["data_source"] = source_from_flag(args.source)
    params = template.params
    if args.params:
        extra = params_flag(args.params)
        params = Params(
            partitioner={**params.partitioner, **extra.partitioner},
            app={**params.app, **extra.app},
            assembler={**params.assembler, **extra.assembler},
        )
    updates["params"] = apply_sets(params, args.set)
    updates["config"] = override_config(template.config, args)
    template = template.model_copy(update=updates)
    check_source(template.data_source, base)
    components = {
        role: resolve(role, getattr(args, role), search)
        if getattr(args, role)
        else resolve(role, getattr(template, role), search, template_dir)
        for role in ("partitioner", "app", "assembler")
    }
    destination = destination_folder(
        template.data_destination, args.output, Path("bytenite-output") / "{job}", base
    )
    if template.data_destination is not None and template.data_destination.descriptor == "file":
        # Run here, as the README promises, but not passed off as a request the platform takes.
        warnings.append(
            "dataDestination.dataSourceDescriptor: 'file' is a source only: the platform "
            "refuses this request; 'bucket' with the same params.path writes here too"
        )
    if destination is not None:
        resolved(destination, "output folder")
    # What the job reads: neither the output nor the report copy may replace it.
    inputs: list[tuple[str, Path]] = []
    source = local_source(template.data_source, base)
    if source is not None:
        inputs.append(("the source", source))
    if args.request:
        inputs.append(("the request", Path(args.request)))
    if template_file is not None:
        inputs.append(("the template", template_file))
    if args.secrets is not None:
        inputs.append(("the secrets file", args.secrets))
    inputs += [
        (f"the {role}'s folder", c.folder) for role, c in components.items() if c.folder is not None
    ]
    if args.report is not None:
        # Written there after the delivery, it would be a file no run delivered: the next
        # --overwrite would refuse the folder.
        default = destination is None or destination.name == "{job}"
        output = [] if destination is None or default else [("the output folder", destination)]
        check_report(args.report, [*inputs, *output])
    if destination is not None and source is not None and source.is_dir():
        # The default folder under the current one too: a run from inside the source.
        folder = destination.parent if destination.name == "{job}" else destination
        if folder.resolve().is_relative_to(source.resolve()):
            raise TemplateError(
                f"output folder {str(folder)!r} is inside the source folder {str(source)!r}: "
                "the next run would read this output as input; choose a folder outside it"
            )
    if (
        source is not None
        and source.is_dir()
        and args.workdir.resolve().is_relative_to(source.resolve())
    ):
        # The source is copied into the job's folder there: the copy would copy itself
        # until a path grows too long, and the next run would read these records too.
        raise ConfigError(
            f"--workdir {str(args.workdir)!r} is inside the source folder {str(source)!r}: "
            "the job would copy its own records as input; choose a folder outside it"
        )
    if destination is not None and destination.name != "{job}":
        given = (("--user-cache", args.user_cache), ("--shared-cache", args.shared_cache))
        caches = [(flag, path) for flag, path in given if path is not None]
        keep = [
            ("the current folder", Path.cwd()),
            ("the job records", args.workdir),
            *[(f"the {flag}", path) for flag, path in caches],
            # A mistyped --output ~ or / with --overwrite would replace either whole.
            ("your home folder", Path.home()),
            ("the Python environment", Path(sys.prefix)),
            *inputs,
        ]
        check_destination(destination, args.overwrite, keep)
        destination = destination.resolve()
    return JobPlan(
        name=request.name if args.request else (template.id or "simulated-job"),
        template=template,
        partitioner=components["partitioner"],
        app=components["app"],
        assembler=components["assembler"],
        base_dir=base,
        destination=destination,
        overwrite=args.overwrite,
        warnings=tuple(warnings),
    )
