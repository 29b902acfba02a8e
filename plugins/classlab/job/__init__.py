"""The main job: the whole workflow as steps over the core API (one core call per
step, typed outcomes, progress callbacks, skip-when-done), a step runner that
measures each step, the command line (``python -m classlab``) and the link that
makes this checkout a FiftyOne plugin (for the App it opens at the end).

Modules: ``workflow`` (the steps and :func:`run_workflow`), ``settings``
(:class:`WorkflowConfig`), ``checks`` (what a dataset already holds),
``comparing`` (the compare step: paired tests, control, repeats), ``reset``
(:func:`start_over`),
``clip_run`` (the run's CLIP model and cache), ``label_steps`` (out-of-sample
predictions, label issues), ``model_steps`` (the opt-in ``--models``: extra
architectures and a linear probe), ``outcomes`` (typed step
results), ``runner`` (steps, progress lines, summary table), ``memory`` (RSS
and CPU sampling), ``cli`` and ``plugin``.

Public API::

    from classlab.job.workflow import WorkflowConfig, run_workflow
"""
