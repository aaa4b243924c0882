"""Several `sage-amazon settlement import` at once add the same settlement's partition: the one that loses the
race finds it added and does not fail (seen in CI, four commands at once on an empty data dir: Dagster's storage
looked, found nothing, and its insert hit UNIQUE constraint failed: dynamic_partitions)."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy.exc import IntegrityError

from assets.partitions import settlement_partitions
from sage_amazon.runner.settlement import add_settlement_partition


def test_a_partition_another_command_added_during_the_add_is_not_an_error(tmp_path, monkeypatch) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        added = instance.add_dynamic_partitions

        def raced(name, keys):  # the other command's insert lands first; ours hits the unique constraint
            added(name, keys)
            raise IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("UNIQUE constraint failed"))

        monkeypatch.setattr(instance, "add_dynamic_partitions", raced)
        assert add_settlement_partition("22950551234", instance) is False
        assert instance.get_dynamic_partitions(settlement_partitions.name) == ["22950551234"]


def test_another_storage_error_is_not_swallowed(tmp_path, monkeypatch) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        def broken(name, keys):
            raise IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("NOT NULL constraint failed"))

        monkeypatch.setattr(instance, "add_dynamic_partitions", broken)
        with pytest.raises(IntegrityError):
            add_settlement_partition("22950551234", instance)
