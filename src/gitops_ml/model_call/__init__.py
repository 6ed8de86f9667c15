"""The service's model call: a fitted model's predictions from raw columns, as fast as the model allows.

- :mod:`~gitops_ml.model_call.scorer`: :func:`~gitops_ml.model_call.scorer.column_scorer`, built once per loaded
  model: the compiled path when it reproduces the model, else the team's ``interface.score_frame`` on a DataFrame;
- :mod:`~gitops_ml.model_call.compiled`: the fitted Pipeline converted to ONNX and run by ONNX Runtime, checked
  against ``score_frame`` on probe rows before use;
- :mod:`~gitops_ml.model_call.onnx_converters`: the converters skl2onnx lacks for the template's Pipeline.

The engine's: it reaches the team's model only through ``pipeline/interface.py`` (``score_frame``, ``model_frame``,
``date_parts``), so a team that rewrites its features keeps a correct service (the check refuses a graph that no
longer agrees, and the generic path serves).
"""
