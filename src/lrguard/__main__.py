"""``python -m lrguard`` runs the CLI."""

from lrguard.cli.main import main

raise SystemExit(main())
