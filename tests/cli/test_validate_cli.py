"""`oms validate PATH...` run as a real process: exit codes and exact output lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"


def oms_validate(*paths: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oms.cli", "validate", *map(str, paths)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy_definitions(target: Path) -> Path:
    shutil.copytree(DEFINITIONS, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def flow_variant(defs: Path, name: str, old: str, new: str) -> Path:
    """A copy of the shipped flow named ``name``, with ``old`` replaced by ``new``."""
    path = defs / "flows" / f"{name}.yaml"
    shutil.copy(defs / "flows" / "order.yaml", path)
    edit(path, "name: order\n", f"name: {name}\n")
    edit(path, old, new)
    return path


def test_shipped_definitions_are_valid():
    result = oms_validate("definitions/")
    shipped = len(list(DEFINITIONS.rglob("*.yaml")))  # every YAML file there is a definition
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{shipped} definition(s) valid\n", "")


def test_single_files_are_validated_as_one_set():
    # The flow names the form, the rule set and the allocation; given together, all resolve.
    result = oms_validate(
        "definitions/flows/order.yaml",
        "definitions/rules/order_audit.yaml",
        "definitions/forms/order.yaml",
        "definitions/allocation/default.yaml",
    )
    assert (result.returncode, result.stdout) == (0, "4 definition(s) valid\n")


def test_a_flow_alone_reports_its_unresolved_references():
    result = oms_validate("definitions/flows/order.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "definitions/flows/order.yaml:$.form: unknown form 'order'",
        "definitions/flows/order.yaml:$.steps[0].rules: unknown rules 'order_audit'",
        "definitions/flows/order.yaml:$.steps[2].params.allocation: unknown allocation 'default'",
    ]


def test_every_problem_of_every_file_is_one_line(tmp_path):
    defs = copy_definitions(tmp_path / "definitions")
    edit(
        defs / "flows" / "order.yaml",
        "    status: paid\n    next: delivery_method\n",
        "    status: paid\n    next: delivery_methd\n",
    )
    flow_variant(defs, "no_timeout", "    timeout: 3d\n", "")
    flow_variant(defs, "no_start", "start: audit\n", "")
    flow_variant(defs, "wrong_type", "    due: 4h\n", "    due: 12\n")
    edit(defs / "rules" / "order_audit.yaml", '"not facts.address.complete"', '"not (facts.address.complete"')
    edit(defs / "forms" / "order.yaml", "title: {en: Order, zh: 订单}\n", "")

    result = oms_validate(defs)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{defs}/flows/no_start.yaml:$: 'start' is required",
        f"{defs}/flows/no_timeout.yaml:$.steps[4]: 'timeout' is required",
        f"{defs}/flows/order.yaml:$.steps[5].next: unknown step 'delivery_methd' (did you mean 'delivery_method'?)",
        f"{defs}/flows/wrong_type.yaml:$.steps[1].due: must be of type string, not int",
        f"{defs}/forms/order.yaml:$: 'title' is required",
        f"{defs}/rules/order_audit.yaml:$.rules[1].when: expression does not compile: "
        "parserError: Unexpected token: None at (27, 27); Expected Bracket.",
    ]
    assert result.stderr == ""


def test_paths_are_printed_as_given(tmp_path):
    defs = copy_definitions(tmp_path / "definitions")
    edit(defs / "flows" / "order.yaml", "  - id: manual_review\n", "  - id: manual_review\n  - id: audit\n")
    result = oms_validate("definitions", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "definitions/flows/order.yaml:$.steps[1]: 'type' is required",
    ]


def test_a_yaml_syntax_error_names_its_line(tmp_path):
    defs = copy_definitions(tmp_path / "definitions")
    edit(defs / "rules" / "order_audit.yaml", "hit_policy: collect", "hit_policy: [collect")
    result = oms_validate(defs / "rules" / "order_audit.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{defs}/rules/order_audit.yaml:$: the [ opened on line 14 is never closed "
        "(a ] is missing, or a comma between two items)",
    ]


def test_a_path_that_does_not_exist(tmp_path):
    result = oms_validate(tmp_path / "nowhere")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{tmp_path}/nowhere: no such file or folder\n"


def test_a_missing_path_fails_even_beside_valid_ones():
    result = oms_validate("definitions", "definitons")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "definitons: no such file or folder\n")


# ---- known product bugs (see each reason) -----------------------------------


def test_definitions_below_a_folder_named_schemas_are_validated(tmp_path):
    defs = copy_definitions(tmp_path / "schemas" / "definitions")
    edit(
        defs / "flows" / "order.yaml",
        "    status: paid\n    next: delivery_method\n",
        "    status: paid\n    next: delivery_methd\n",
    )
    result = oms_validate(defs)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{defs}/flows/order.yaml:$.steps[5].next: unknown step 'delivery_methd' (did you mean 'delivery_method'?)",
    ]


def test_a_file_that_is_not_utf8_is_one_error_line(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("kind: rules\nname: caf\xe9\nrules: []\n".encode("latin-1"))
    result = oms_validate(bad)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{bad}:$: ")


def test_a_failing_stored_case_of_a_carrier_table_is_an_error_line(tmp_path):
    defs = copy_definitions(tmp_path / "definitions")
    path = defs / "carriers" / "default.yaml"
    edit(
        path, "expect: {carrier: sim_post, service: small_parcel", "expect: {carrier: sim_parcel, service: small_parcel"
    )
    result = oms_validate(path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:$.tests[0].expect.carrier: test 'a light parcel in Germany goes by post at the flat price' failed: "
        "expected 'sim_parcel', got 'sim_post'"
    ]
