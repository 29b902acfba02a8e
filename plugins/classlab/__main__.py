"""``python -m classlab``: the main job (see classlab.job.cli)."""

from classlab.job.cli import main

raise SystemExit(main())
