"""Imports run one way: no module of the package imports, directly or through others, a
module that imports it back. Imports inside functions count; imports under
``if TYPE_CHECKING:`` do not (they never run). See docs/architecture.md for the direction."""

from __future__ import annotations

import grimp


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("monitor", cache_dir=None, exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_no_import_cycles_in_the_package() -> None:
    graph = _graph()
    assert len(graph.modules) > 40  # the whole package was read
    assert _cycles(graph) == []


def test_channel_modules_share_only_alerts_base() -> None:
    graph = _graph()
    channels = {"monitor.alerts.chat", "monitor.alerts.email", "monitor.alerts.webhook"}
    for module in channels:
        imported = graph.find_modules_directly_imported_by(module)
        assert "monitor.alerts.base" in imported
        assert not imported & (channels | {"monitor.alerts.channels"}), module


def test_the_check_finds_a_cycle() -> None:
    graph = _graph()
    graph.add_import(importer="monitor.alerts.base", imported="monitor.alerts.webhook")
    assert ("monitor.alerts.base", "monitor.alerts.webhook", "monitor.alerts.base") in _cycles(
        graph
    )
