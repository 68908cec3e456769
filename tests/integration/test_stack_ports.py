"""The embedded stack's port choice: ports below the kernel's ephemeral range, and a start that
survives losing a port to another process between choosing it and binding it (seen in CI: Temporal's
frontend port taken by an outgoing connection's local end)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy import stack as stack_module
from deploy.stack import Stack, StartupExit, _ephemeral_range, free_port


def test_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    lo, _hi = _ephemeral_range()
    taken: set[int] = set()
    for _ in range(20):
        port = free_port(taken=taken)
        assert port not in taken
        taken.add(port)
        if lo > 20000:
            assert 15000 <= port < lo
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def _hold_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def _infrastructure_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Stack, "migrate", lambda self: None)
    monkeypatch.setattr(Stack, "start_services", lambda self: None)


def test_a_lost_port_race_restarts_on_other_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _infrastructure_only(monkeypatch)
    holder = _hold_port()
    stolen = holder.getsockname()[1]
    original = Stack.choose_ports
    calls: list[set[int]] = []

    def choose_ports(self: Stack, avoid: set[int] | None = None) -> None:
        calls.append(set(avoid or ()))
        original(self, avoid)
        if len(calls) == 1:  # the race: the port was free when chosen, taken when Temporal binds it
            self.ports["temporal"] = stolen

    monkeypatch.setattr(Stack, "choose_ports", choose_ports)
    s = Stack(tmp_path)
    try:
        s.prepare()
        s.start()
        assert len(calls) == 2 and stolen in calls[1]
        assert s.ports["temporal"] != stolen
        assert s.children["temporal"].alive() and s.children["redis"].alive()
        assert stack_module._temporal_ready(s.ports["temporal"])
    finally:
        s.stop()
        holder.close()


def test_an_exit_for_another_reason_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _infrastructure_only(monkeypatch)
    original = Stack.define_children
    starts = 0

    def define_children(self: Stack) -> None:
        nonlocal starts
        starts += 1
        original(self)
        self.children["temporal"].cmd.append("--no-such-flag")

    monkeypatch.setattr(Stack, "define_children", define_children)
    s = Stack(tmp_path)
    try:
        s.prepare()
        with pytest.raises(StartupExit, match="Temporal exited during start-up"):
            s.start()
        assert starts == 1
    finally:
        s.stop()
