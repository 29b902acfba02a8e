"""The main job: the whole workflow as steps over the core API, a step runner
that measures each step, the command line (``python -m classlab``) and the
link that makes this checkout a FiftyOne plugin.

Public API::

    from classlab.job.workflow import WorkflowConfig, run_workflow
"""
