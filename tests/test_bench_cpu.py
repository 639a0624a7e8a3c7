"""bench/cpu_per_request.py's pure parts: the /proc stat parser and a mix's sum of its parts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))  # bench modules import each other as top-level modules

import cpu_per_request as cpu  # noqa: E402


def test_a_stat_line_whose_thread_name_holds_spaces_and_parentheses_parses() -> None:
    # /proc/PID/task/TID/stat: pid (comm) state ppid ... minflt(10) ... utime(14) stime(15) ...
    after_name = "S 1 2 3 0 -1 4194560 1234 0 5 0 250 75 0 0 20 0 3 0 100 1000 200"
    name, counters = cpu.parse_stat(f"4242 (python (x) y) {after_name}\n")
    assert name == "python (x) y"
    assert counters.minflt == 1234
    assert counters.user == pytest.approx(250 / cpu.TICK)
    assert counters.system == pytest.approx(75 / cpu.TICK)


def test_counters_subtract_field_by_field() -> None:
    delta = cpu.Counters(3.0, 1.5, 40) - cpu.Counters(1.0, 0.5, 10)
    assert delta == cpu.Counters(2.0, 1.0, 30)


def test_a_mix_of_six_gets_three_lists_one_post_weighs_its_parts() -> None:
    get = {"method": "GET", "path": "/api/v1/assets/a1"}
    listing = {"method": "GET", "path": "/api/v1/assets?type=tank&status=active&page=1"}
    post = {"method": "POST", "path": "/api/v1/assets", "body": "{}"}
    mix = [get] * 6 + [listing] * 3 + [post]
    shares = cpu.weights(mix * 20)
    assert shares == pytest.approx({"get": 0.6, "list": 0.3, "post": 0.1})
    parts = cpu.sum_of_parts(shares, {"get": 233.0, "list": 450.0, "post": 650.0})
    assert parts == pytest.approx(0.6 * 233 + 0.3 * 450 + 0.1 * 650)
    reads = cpu.weights([s for s in mix if s["method"] != "POST"])
    assert reads == pytest.approx({"get": 6 / 9, "list": 3 / 9})
    assert "post" not in reads
    assert cpu.sum_of_parts(shares, {"get": 233.0, "list": 450.0}) is None  # post not measured


def test_the_mix_parts_come_from_the_mix_where_measured_else_from_the_workloads() -> None:
    get = {"method": "GET", "path": "/api/v1/assets/a1"}
    listing = {"method": "GET", "path": "/api/v1/assets?page=1"}
    post = {"method": "POST", "path": "/api/v1/assets", "body": "{}"}
    made = cpu.derived({"mix": [get, get, listing, post]})
    assert made == {
        "mix-reads": [get, get, listing],
        "mix-gets": [get, get],
        "mix-lists": [listing],
    }
    assert cpu.part_sources(["get", "list", "post", "mix"]) == {
        "get": "get",
        "list": "list",
        "post": "post",
    }
    assert cpu.part_sources(["get", "list", "mix-gets", "mix-lists"]) == {
        "get": "mix-gets",
        "list": "mix-lists",
    }
