"""`python -m sage_amazon.tenants check | workspace | run` (docs/multi-seller.md)."""

from __future__ import annotations

import argparse
import sys

import yaml

from sage_amazon.config import ConfigError


def workspace_yaml(tenants, grpc_ports: dict[str, int] | None = None) -> str:
    """One code location per tenant: in-process loading (one machine), or `grpc_server` entries (one
    `dagster api grpc -m sage_amazon.tenants.location -a <name>` per tenant, on the host of its worker)."""
    entries = []
    for t in tenants:
        if grpc_ports and t.name in grpc_ports:
            entries.append({"grpc_server": {"host": "127.0.0.1", "port": grpc_ports[t.name], "location_name": t.location}})
        else:
            entries.append({"python_module": {"module_name": "sage_amazon.tenants.location", "attribute": t.name,
                                              "location_name": t.location}})
    return yaml.safe_dump({"load_from": entries}, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sage_amazon.tenants")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate the tenants file (SAGE_AMAZON_TENANTS_FILE)")
    sub.add_parser("workspace", help="print the workspace: one code location per tenant")
    run = sub.add_parser("run", help="what `sage-amazon run` does, for each tenant, through the deployment")
    run.add_argument("--webserver", default="127.0.0.1:3000")
    run.add_argument("--start", required=True)
    run.add_argument("--end", required=True)
    run.add_argument("--timeout", type=float, default=3600.0)
    run.add_argument("tenant", nargs="*")
    args = parser.parse_args(argv)
    from sage_amazon.tenants.tenants_file import load, tenant_env

    try:
        tenants = load()
        if args.command == "check":
            for tenant in tenants:
                tenant_env(tenant)  # every secret variable named is set
                print(f"{tenant.name}: queue {tenant.queue}, data root {tenant.data_root}")
            return 0
        if args.command == "workspace":
            print(workspace_yaml(tenants), end="")
            return 0
        chosen = [t for t in tenants if not args.tenant or t.name in args.tenant]
        unknown = sorted(set(args.tenant) - {t.name for t in tenants})
        if unknown:
            raise ConfigError(f"no tenant named {', '.join(unknown)} in the tenants file")
    except ConfigError as exc:
        print(f"sage-amazon tenants: configuration error: {exc}", file=sys.stderr)
        return 2
    from sage_amazon.tenants.runs import run_tenants

    outcomes = run_tenants(args.webserver, chosen, args.start, args.end, args.timeout)
    for outcome in outcomes:
        failed = [label for label, ok, _ in outcome.runs if not ok]
        print(f"{outcome.tenant}: {len(outcome.runs)} run(s), " + (f"failed: {', '.join(failed)}" if failed else "all succeeded"))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
