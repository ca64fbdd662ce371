"""oVirt ``?search=`` support: parse the query language and compile it into SQL conditions."""

from virtfleet.engine.services.search.ast import (
    And,
    Comparison,
    Expr,
    Operator,
    Or,
    SearchQuery,
    Sort,
)
from virtfleet.engine.services.search.parser import MAX_LENGTH, parse_search, render
from virtfleet.engine.services.search.sql import (
    CompiledQuery,
    FieldResolver,
    SearchFields,
    aliases,
    check_prefix,
    compile_condition,
    compile_query,
    compile_sort,
    datetime_field,
    enum_field,
    int_field,
    related_field,
    text_field,
)

__all__ = [
    "MAX_LENGTH",
    "And",
    "Comparison",
    "CompiledQuery",
    "Expr",
    "FieldResolver",
    "Operator",
    "Or",
    "SearchFields",
    "SearchQuery",
    "Sort",
    "aliases",
    "check_prefix",
    "compile_condition",
    "compile_query",
    "compile_sort",
    "datetime_field",
    "enum_field",
    "int_field",
    "parse_search",
    "related_field",
    "render",
    "text_field",
]
