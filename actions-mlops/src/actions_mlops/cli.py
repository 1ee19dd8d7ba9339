"""One command line for every step: `actions-mlops <step>` (or `python -m actions_mlops <step>`).

Each step is a module with a `main()` in one of the package's parts (data, training, release,
serving, monitoring, site); modules are imported only when their step runs, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
import typing

from actions_mlops.core.errors import StepError
from actions_mlops.core.typed import ConfigError

# step name -> (module, one-line help), in the order the pipeline runs them
STEPS: dict[str, tuple[str, str]] = {
    "ingest": ("data.ingest", "write the example data set (data.source) to data.raw"),
    "adopt": ("adopt", "make the project yours: --data TABLE --target COLUMN [--task ...]"),
    "check": ("checks", "check params.yaml, contract.yaml, bentofile.yaml (a line a problem)"),
    "json-schema": ("schemas", "write the settings files' JSON Schemas to .schemas/"),
    "schema": ("data.infer", "draft contract.yaml from the data"),
    "validate": ("data.validate", "check the raw data (data.raw) against contract.yaml"),
    "drift": ("monitoring.drift", "drift of the data (or --batch FILE) vs the profile"),
    "profile": ("monitoring.reference", "reports/reference_profile.json from the train split"),
    "split": ("data.split", "split the raw data into train and test"),
    "train": ("training.train", "fit the model pipeline and save models/model.skops"),
    "evaluate": ("training.evaluate", "metrics with intervals, slices, importance, plot data"),
    "gate": ("release.gate", "bless the model or not: bounds, paired test vs champion"),
    "report": ("release.report", "markdown report for the pull request and job summary"),
    "sweep": ("training.sweep", "DVC experiments ranked by the primary metric"),
    "monitor": ("monitoring.monitor", "production drift and performance: --batch LOG"),
    "retrain-branch": ("monitoring.retrain", "commit refreshed results on a retrain/... branch"),
    "register": ("release.registry", "tag HEAD as a new model version (GTO); needs a BLESSED gate"),
    "promote": ("release.promote", "assign a version to a stage: --version V --stage S"),
    "versions": ("release.versions", "list registered versions and their stages"),
    "package": ("release.package", "BentoML model and bento of HEAD's registered version"),
    "predict": ("release.batch", "score a table with a registered version into Parquet"),
    "serve": ("release.serve", "serve HEAD's bento over HTTP (packages it first when needed)"),
    "containerize": ("release.containerize", "OCI image of HEAD's bento (needs Docker)"),
    "model-card": ("release.modelcard", "write release/model-card.md"),
    "release-artifacts": ("release.artifacts", "model, card, metrics and bento in release/"),
    "ci": ("github.ci", "CI plumbing and github-setup / github-doctor (see ci --help)"),
    "site": ("site.build", "static site of versions, metrics, stages and drift in site/"),
}


class OneLineParser(argparse.ArgumentParser):
    """A command line whose mistakes are one line on stderr (exit 2), not argparse's usage: a
    misspelt step in dvc.yaml or a workflow names itself and what was meant."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message}; --help shows the usage\n")


def unknown_step(step: str) -> str:
    """The one line for a step that does not exist, with the closest one."""
    close = difflib.get_close_matches(step, STEPS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown step {step!r}: {hint}steps: {', '.join(STEPS)}"


def main(argv: list[str] | None = None) -> int:
    """Run one step: its module's main(), given parsed options when it declares any."""
    parser = OneLineParser(
        prog="actions-mlops",
        description=__doc__,
        epilog="steps:\n" + "\n".join(f"  {n:<10} {h}" for n, (_, h) in STEPS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("step", metavar="STEP", help="one of the steps below")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of the step")
    args = parser.parse_args(argv)
    if args.step not in STEPS:
        print(f"{parser.prog}: {unknown_step(args.step)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f".{STEPS[args.step][0]}", __package__)
    try:
        if not hasattr(module, "add_arguments"):
            if args.options:
                parser.error(f"step {args.step!r} takes no options")
            return int(module.main() or 0)
        step_parser = OneLineParser(prog=f"{parser.prog} {args.step}")
        module.add_arguments(step_parser)
        return int(module.main(step_parser.parse_args(args.options)) or 0)
    except ConfigError as error:  # bad settings: one line per problem, no traceback
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    except StepError as error:  # a refusal (e.g. a model file that must not be loaded)
        print(f"{args.step}: refused: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
