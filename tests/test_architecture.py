"""The layout's import contracts ([tool.importlinter] in pyproject.toml) hold, and they would catch a break.

`make lint` runs `lint-imports`; these tests check the same contracts through import-linter's API on one
import graph (built once, in well under a second), so a break also fails `pytest` and names its chain.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.independence import IndependenceContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract
from importlinter.domain.contract import Contract, ContractCheck

ROOT = Path(__file__).resolve().parent.parent
CONFIG = read_configuration(str(ROOT / "pyproject.toml"))
SESSION = CONFIG["session_options"]
CONTRACTS: list[dict[str, Any]] = CONFIG["contracts_options"]
TYPES: dict[str, type[Contract]] = {
    "forbidden": ForbiddenContract,
    "independence": IndependenceContract,
    "layers": LayersContract,
    "protected": ProtectedContract,
}


@pytest.fixture(scope="module")
def project_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*SESSION["root_packages"], cache_dir=None)


def check(options: dict[str, Any], graph: grimp.ImportGraph) -> ContractCheck:
    """Check one contract on a copy of ``graph`` (a contract drops its ignored imports from the graph)."""
    contract = TYPES[options["type"]](options["name"], SESSION, {k: v for k, v in options.items() if k != "type"})
    return contract.check(copy.deepcopy(graph), verbose=False)


def chains(result: ContractCheck) -> list[str]:
    """Each illegal chain as `a -> b -> c`."""
    return [
        " -> ".join([chain[0]["importer"], *(link["imported"] for link in chain)])
        for found in result.metadata.get("invalid_chains", [])
        for chain in found["chains"]
    ]


def with_import(graph: grimp.ImportGraph, importer: str, imported: str) -> grimp.ImportGraph:
    """``graph`` plus the import ``importer -> imported`` (``importer`` is added if it is new)."""
    changed = copy.deepcopy(graph)
    changed.add_module(importer)
    changed.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return changed


def contract_for(source: str) -> dict[str, Any]:
    (found,) = [c for c in CONTRACTS if c["type"] == "forbidden" and c["source_modules"] == [source]]
    return found


def test_every_contract_has_a_known_type():
    assert CONTRACTS
    assert {c["type"] for c in CONTRACTS} <= TYPES.keys()


@pytest.mark.parametrize("options", CONTRACTS, ids=[c["name"].split(":")[0] for c in CONTRACTS])
def test_the_contract_holds(options, project_graph):
    result = check(options, project_graph)
    assert result.kept, "\n".join([f"broken: {options['name']}", *chains(result)])


def test_from_web_inside_services_breaks_the_services_contract(project_graph):
    graph = with_import(project_graph, "services.orders.shortcut", "web.deps")
    result = check(contract_for("services"), graph)
    assert not result.kept
    assert chains(result) == ["services.orders.shortcut -> web.deps"]


def test_services_may_import_workflows_contracts_and_nothing_else_of_workflows(project_graph):
    services = contract_for("services")
    assert check(services, with_import(project_graph, "services.extra", "workflows.contracts")).kept
    assert not check(services, with_import(project_graph, "services.extra", "workflows.order_flow")).kept


def test_workflows_contracts_may_not_pull_in_workflow_code(project_graph):
    graph = with_import(project_graph, "workflows.contracts", "workflows.order_flow")
    result = check(contract_for("workflows.contracts"), graph)
    assert not result.kept
    assert "workflows.contracts -> workflows.order_flow" in chains(result)


def test_only_web_app_may_import_designer(project_graph):
    web = contract_for("web")
    assert not check(web, with_import(project_graph, "web.pages.extra", "designer.views")).kept


@pytest.mark.parametrize(
    "options", [c for c in CONTRACTS if c["type"] == "forbidden"], ids=lambda c: c["name"].split(":")[0]
)
def test_every_forbidden_contract_catches_a_direct_import(options, project_graph):
    source, forbidden = options["source_modules"][0], options["forbidden_modules"][0]
    result = check(options, with_import(project_graph, f"{source}.intruder", forbidden))
    assert not result.kept
    assert f"{source}.intruder -> {forbidden}" in chains(result)
