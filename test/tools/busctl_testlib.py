"""What busctl's Python tool tests share: the schema every --json document
is validated against, and the tally of checks with the failures named."""
import json

import jsonschema


def load_schema(path):
    """The schema at `path`, itself checked, and a validator for it."""
    with open(path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema, jsonschema.Draft202012Validator(schema)


class Checks:
    """Counts checks and keeps the failed ones; prints each failure with its
    detail (and each pass too when `verbose`)."""

    def __init__(self, verbose=False, detail_limit=3000):
        self.count = 0
        self.failures = []
        self.verbose = verbose
        self.detail_limit = detail_limit

    def check(self, condition, what, detail=""):
        self.count += 1
        if condition:
            if self.verbose:
                print(f"ok: {what}")
        else:
            self.failures.append(what)
            print(f"FAIL: {what}\n  {str(detail)[:self.detail_limit]}")
