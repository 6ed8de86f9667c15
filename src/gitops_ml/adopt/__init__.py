"""``make init-data``: adopting a team's own data file as the project's data (the engine's).

- :mod:`~gitops_ml.adopt.init_data`: the command (read the file, infer, rewrite params.yaml, ``dvc add data``,
  all or nothing);
- :mod:`~gitops_ml.adopt.infer_contract`: every rule that turns a table into a task and a data contract.

It reads and checks the data through the team's ``pipeline/interface.py`` (``read_table``, ``check_frame``,
``parse_datetimes``), exactly as the validate stage will.
"""
