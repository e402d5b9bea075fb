"""Training of the passage model (``monitor/claims/passage_model/``)."""
