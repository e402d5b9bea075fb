"""The stance model: training and evaluation on FNC-1 (``python -m training.stance``).

The runtime keeps only inference (``monitor.claims.stance``) and the model files
(``monitor/claims/stance_model/``) this writes with ``--out``.
"""
