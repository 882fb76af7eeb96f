"""How the store's costs scale with records that a call does not touch.

Measures, in one run, ecsemu's store against a peer that does what the store did before
issue 9 (the same class with the old behaviour put back):

1. a refused transaction (one rewrite, then an error) on a durable store of N records:
   undo images + SQLite ROLLBACK, against reloading the whole database under the lock;
   also the worst case for undo images, a refused transaction that deleted a record;
2. DescribeClusters (with STATISTICS) and ListTasks of a 10-task cluster, beside a cluster of
   N tasks: the per-cluster index, against decoding every task of the scope;
3. one reconciler round's read of N unchanged tasks: the mirror (changed keys only, shared read-only
   with the planner), against decoding every record under the store's lock.

    python bench/store_scaling.py              # N = 20000
    python bench/store_scaling.py --records 5000 --repeat 5

Figures are medians of ``--repeat`` runs, in milliseconds, with the ratio peer / ecsemu.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ecsemu.context import RequestContext, Scope
from ecsemu.model import task as task_model
from ecsemu.reconcile.loop import Reconciler
from ecsemu.runtime.simulated import SimulatedRuntime
from ecsemu.services.ecs.provider import EcsProvider
from ecsemu.state.store import Change, Record, Store

SCOPE = Scope("123456789012", "us-east-1")
CONTEXT = RequestContext(SCOPE.account_id, SCOPE.region)


class Refused(Exception):
    pass


class ReloadingStore(Store):
    """The peer for rollbacks: the old store reloaded the whole database on every rollback."""

    def _rollback(self) -> None:
        if self._db is None:
            super()._rollback()
            return
        self._db.execute("ROLLBACK")
        self._tables, self._heads = {}, {}
        rows = self._db.execute("SELECT account, region, kind, id, seq, body FROM records ORDER BY seq")
        for account, region, kind, record_id, seq, body in rows:  # the old reload (plus the head index)
            self._set(Change(Scope(account, region), kind, record_id), (seq, body))
        self._pending, self._undo = [], []


class ScanningStore(Store):
    """The peer for per-cluster reads: the old callers decoded every record of the kind."""

    def list(self, scope: Scope, kind: str, under: str | None = None) -> list[Record]:
        records = [(record_id, json.loads(body)) for record_id, (_birth, body) in self._view(scope, kind, None).items()]
        return [record for record_id, record in records if under is None or record_id.startswith(under + "/")]


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def row(what: str, ecsemu_ms: float, peer_ms: float) -> None:
    ratio = peer_ms / ecsemu_ms if ecsemu_ms else float("inf")
    print(f"  {what:<58} {ecsemu_ms:9.3f} {peer_ms:10.3f} {ratio:8.1f}x")


def header(title: str) -> None:
    print(f"\n{title}\n  {'':<58} {'ecsemu ms':>9} {'peer ms':>10} {'peer/us':>8}")


def seed_tasks(store: Store, definition: Record, cluster: str, count: int) -> None:
    with store.transaction():
        for n in range(count):
            record = task_model.new_task(
                SCOPE, task_id=f"{cluster}-{n:06d}", cluster_name=cluster, definition=definition, now=0.0
            )
            record["status"]["lastStatus"] = "RUNNING"
            store.put(SCOPE, "task", f"{cluster}/{cluster}-{n:06d}", record)


def ecs_world(store: Store, big: int) -> EcsProvider:
    provider = EcsProvider(store)
    for name in ("big", "small"):
        provider.handle(CONTEXT, "CreateCluster", {"clusterName": name})
    provider.handle(
        CONTEXT,
        "RegisterTaskDefinition",
        {"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 64}]},
    )
    definition = store.get(SCOPE, "taskdef", "web:1")
    assert definition is not None
    seed_tasks(store, definition, "big", big)
    seed_tasks(store, definition, "small", 10)
    return provider


def bench_rollback(records: int, repeat: int) -> None:
    header(f"1. refused transaction on a durable store of {records} records")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for label, cls in (("ecsemu", Store), ("peer", ReloadingStore)):
            store = cls(Path(directory) / f"{label}.sqlite3")
            ecs_world(store, records)

            def rewrite_then_refuse(store: Store = store) -> None:
                try:
                    with store.transaction():
                        store.put(SCOPE, "task", "small/small-000003", {"spec": {}, "status": {}})
                        raise Refused
                except Refused:
                    pass

            def delete_then_refuse(store: Store = store) -> None:
                try:
                    with store.transaction():
                        store.delete(SCOPE, "task", "big/big-000000")
                        raise Refused
                except Refused:
                    pass

            results[label] = [median_ms(rewrite_then_refuse, repeat), median_ms(delete_then_refuse, repeat)]
            assert store.count(SCOPE, "task") == records + 10
            store.close()
    row("rewrite 1 record, refuse", results["ecsemu"][0], results["peer"][0])
    row("delete 1 record (first of a 20k-record kind), refuse", results["ecsemu"][1], results["peer"][1])


def bench_cluster_reads(records: int, repeat: int) -> None:
    header(f"2. a 10-task cluster's reads, beside a cluster of {records} tasks (ephemeral store)")
    describe = {"clusters": ["small"], "include": ["STATISTICS"]}
    figures: dict[str, list[float]] = {}
    for label, cls in (("ecsemu", Store), ("peer", ScanningStore)):
        provider = ecs_world(cls(), records)
        answer = provider.handle(CONTEXT, "DescribeClusters", describe)
        assert answer["clusters"][0]["runningTasksCount"] == 10, answer
        assert len(provider.handle(CONTEXT, "ListTasks", {"cluster": "small"})["taskArns"]) == 10
        figures[label] = [
            median_ms(partial(provider.handle, CONTEXT, "DescribeClusters", describe), repeat),
            median_ms(partial(provider.handle, CONTEXT, "ListTasks", {"cluster": "small"}), repeat),
        ]
    alone = ecs_world(Store(), 0)
    alone_ms = median_ms(lambda: alone.handle(CONTEXT, "DescribeClusters", describe), repeat)
    row("DescribeClusters small (include STATISTICS)", figures["ecsemu"][0], figures["peer"][0])
    row("ListTasks cluster=small", figures["ecsemu"][1], figures["peer"][1])
    print(f"  (DescribeClusters small with no other cluster: {alone_ms:.3f} ms)")


def old_snapshot(store: Store) -> dict[str, Record]:
    """What each round read before: every task decoded, under the store's lock."""
    with store.transaction():
        return dict(store.items(SCOPE, "task"))


def bench_reconciler_read(records: int, repeat: int) -> None:
    header(f"3. one reconciler round's read of {records} unchanged tasks")
    store = Store()
    ecs_world(store, records)
    reconciler = Reconciler(store, SimulatedRuntime())
    reconciler.snapshot()  # the first round reads everything
    new_ms = median_ms(reconciler.snapshot, repeat)
    old_ms = median_ms(lambda: old_snapshot(store), repeat)
    lock_ms = median_ms(lambda: store.read_changes(reconciler.mirror.revision, {"task"}), repeat)
    row("whole round's read (records shared, read-only)", new_ms, old_ms)
    row("of which the store's lock is held", lock_ms, old_ms)
    store.put(SCOPE, "task", "small/small-000001", store.get(SCOPE, "task", "small/small-000001") or {})
    print(f"  records decoded after one write: {reconciler.mirror.refresh()} (peer: {records + 10})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    bench_rollback(args.records, args.repeat)
    bench_cluster_reads(args.records, args.repeat)
    bench_reconciler_read(args.records, args.repeat)


if __name__ == "__main__":
    main()
