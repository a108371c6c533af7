"""Serving: a REST server speaking SageMaker's and TF Serving's APIs.

Kept import-light: `predictor` and `formats` need no web framework, so batch
prediction uses them without Starlette installed. The server itself is
`keras_o2v.serving.app` (install the `serve` extra).
"""
