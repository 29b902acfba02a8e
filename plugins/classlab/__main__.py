"""``python -m classlab``: the main job (see classlab.cli)."""

from classlab.cli import main

raise SystemExit(main())
