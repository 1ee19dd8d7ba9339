"""Allow `python -m {{ cookiecutter.package }} <step>`."""

from {{ cookiecutter.package }}.cli import main

raise SystemExit(main())
