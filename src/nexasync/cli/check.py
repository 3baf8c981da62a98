"""`nexasync check`: verify a config can sync, changing nothing in either system."""

from __future__ import annotations

import sys

import click

from nexasync.cli._app import EXIT_CONFIG, EXIT_OK, EXIT_PAIR_FAILED, _load, _pair_names, cli
from nexasync.config import Config, PairConfig
from nexasync.connectors.base import Check
from nexasync.logs import scrub

CHECK_EXIT_CODES = f"""
\b
Exit codes:
  {EXIT_OK}  every check passed
  {EXIT_CONFIG}  the configuration is invalid (the key is named); nothing was contacted
  {EXIT_PAIR_FAILED}  a check failed: see the FAIL lines
"""


@cli.command(epilog=CHECK_EXIT_CODES)
@click.option("--pair", metavar="NAME", help="Only this pair.")
@click.pass_context
def check(ctx: click.Context, pair: str | None) -> None:
    """Check that every pair (or one) can sync, without changing anything.

    \b
    Validates the config and opens the state store, then for each pair
    connects to NexaDesk and to the CRM and checks:
      - the system answers and the credentials are accepted;
      - the permissions the sync needs: reading, creating, updating and
        deleting leads or contacts (Salesforce: the Lead object's
        permissions and getDeleted; HubSpot: the private app's scopes and
        the owners read that maps reps);
      - every mapped field or property exists and is writable (Salesforce
        custom fields and the external-id field, HubSpot custom
        properties), and the stage values exist;
      - the users or owners named in rep_map exist.
    Prints one OK/FAIL line per check, grouped by pair, and the number of
    problems. A system that cannot be reached is a failed check; the other
    pairs are still checked. Secrets are never printed.
    """
    config = _load(ctx.obj["config_path"])
    names = _pair_names(config, pair)
    groups = [("state store", _state(config))]
    for name in names:
        spec = config.pair(name)
        click.echo(f"checking pair {name}...", err=True)
        groups.append((f"pair {name} (nexadesk <-> {spec.crm.type})", _pair(spec)))
    problems = _print(groups)
    sys.exit(EXIT_PAIR_FAILED if problems else EXIT_OK)


def _state(config: Config) -> list[Check]:
    from sqlalchemy.engine import make_url

    from nexasync.store.store import StateStore

    where = make_url(config.state.url).render_as_string(hide_password=True)
    try:
        store = StateStore(config.state.url)
    except Exception as exc:  # SQLAlchemy masks a URL's password in its messages
        detail = f"cannot open {where}: {type(exc).__name__}: {exc} (check state.url)"
        return [Check("state", "opens", False, detail)]
    store.close()
    return [Check("state", "opens", True, where)]


def _pair(spec: PairConfig) -> list[Check]:
    """Both sides' findings; a connector that fails outright is one failed check, and
    never stops the other side or the other pairs from being checked."""
    from nexasync.runner import build_connectors

    try:
        connectors = build_connectors(spec)
    except Exception as exc:
        return [Check("connectors", "set up", False, f"{type(exc).__name__}: {exc}")]
    findings: list[Check] = []
    try:
        for connector in connectors.values():
            try:
                findings += connector.check()
            except Exception as exc:  # a bug or an answer no check foresaw: still a report
                findings.append(Check(connector.system, "check", False,
                                      f"the check itself failed: {type(exc).__name__}: {exc}"))
    finally:
        for connector in connectors.values():
            connector.close()
    return findings


def _print(groups: list[tuple[str, list[Check]]]) -> int:
    problems = 0
    total = 0
    for title, checks in groups:
        click.echo(title)
        width = max((len(c.system) for c in checks), default=0)
        for c in checks:
            total += 1
            problems += not c.ok
            status = "OK  " if c.ok else "FAIL"
            detail = f": {scrub(c.detail)}" if c.detail else ""
            click.echo(f"  {status}  {c.system:<{width}}  {c.name}{detail}")
        if not checks:
            click.echo("  (nothing to check)")
    plural = "" if problems == 1 else "s"
    click.echo(f"{total} checks, {problems} problem{plural}")
    return problems
