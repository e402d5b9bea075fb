"""Training of the article-level judge (monitor/claims/judge_model/); not installed."""
