"""Validates HAR files against the HAR 1.2 JSON schema beside this script.

The schema files are the npm package har-schema 2.0.0 (ISC licence, LICENSE beside them),
as published. Usage: python3 validate.py FILE.har...; exit 0 when every file is valid, 1
naming each error (where in the file, and what), 2 when python3's `jsonschema` is missing.
"""
import json
import pathlib
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT6
except ImportError:
    print("validate.py: python3's jsonschema is missing (pip install jsonschema)", file=sys.stderr)
    sys.exit(2)

HERE = pathlib.Path(__file__).parent


def registry():
    resources = []
    for path in sorted(HERE.glob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT6)))
    return Registry().with_resources(resources)


def main(files):
    reg = registry()
    root = reg["har.json#"].contents
    validator = jsonschema.Draft6Validator(root, registry=reg, format_checker=jsonschema.FormatChecker())
    failed = False
    for name in files:
        har = json.loads(pathlib.Path(name).read_text())
        for error in sorted(validator.iter_errors(har), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"{name}: {where}: {error.message}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
