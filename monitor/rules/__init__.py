"""Watch rules: a small query language (Google News / Lucene / PubMed habits) and its matcher.

::

    rule = compile_rule("Putin AND congratulat*")
    rules = RuleSet({"putin-congrats": rule})
    for match in rules.match(document_from_article(article)):
        ...

``syntax`` parses text into a tree, ``match`` compiles and evaluates it and explains the
result, ``index`` picks the few rules an article could match. See docs/rules.md.
"""

from .document import Document, PreparedDocument, document_from_article, prepare
from .index import RuleSet, required_keys
from .match import Explanation, Rule, TermReport, compile_rule, explain
from .syntax import FIELDS, RuleError, parse, to_text

__all__ = [
    "FIELDS",
    "Document",
    "Explanation",
    "PreparedDocument",
    "Rule",
    "RuleError",
    "RuleSet",
    "TermReport",
    "compile_rule",
    "document_from_article",
    "explain",
    "parse",
    "prepare",
    "required_keys",
    "to_text",
]
