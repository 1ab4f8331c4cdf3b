"""The web tier: the Flask app that takes forecast requests, answers status and serves the API document.

It never imports the modelling stack (numpy, pandas): tests/test_architecture.py checks it.
"""
