"""Allow `python -m actions_mlops <step>`."""

from actions_mlops.cli import main

raise SystemExit(main())
