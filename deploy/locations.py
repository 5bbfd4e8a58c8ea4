#!/usr/bin/env python3
"""Adds, removes and wires in code locations, from the one list in deploy/locations.toml.

    python3 deploy/locations.py add marketing --team marketing   # make location NAME=... TEAM=...
    python3 deploy/locations.py remove marketing                  # make location-remove NAME=...
    python3 deploy/locations.py render      # rewrite what the list renders into
    python3 deploy/locations.py check       # exit 1 naming each file that differs from the list
    python3 deploy/locations.py names       # one name per line (the Makefile, deploy/images/)

`add` copies deploy/location-template/ to <name>/ (replacing {{name}}, {{NAME}} and {{team}}
in paths and contents, and dropping the .tmpl its Python files and pyproject.toml end in), adds
the entry (the next free `make dev` port; its S3 key may read lake/sales_summary/ and write
lake/<name>/), and renders. `remove` drops the entry, the folder and its snapshot
(tests/snapshots/<name>.json), and renders; it touches no other location's files, and no data:
the lake keeps lake/<name>/ until someone deletes it. What `render` writes:
- workspace.yaml, whole: one gRPC server per location, host and port from the environment;
- docker-compose.yml, between its `# >>> locations: <block>` and `# <<< locations: <block>`
  lines: the code servers' hosts, each location's variables (an `x-<name>-env` anchor the file
  does not already have by hand), each location's service, the S3 keys of the one-shot that
  configures the S3 server, the daemon's environment and what waits for the code servers;
- .env.example, between the same markers: each location's S3 key and run memory limit;
- deploy/kubernetes/values.yaml, between the same markers: a deployment for each location it
  does not already have by hand;
- .github/CODEOWNERS, whole: each location's folder to its team.
Standard library only, so it runs before `make install`.
"""

import argparse
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lakehouse" / "src"))

from lakehouse.locations import NAME, Location, github_org, load  # noqa: E402
from lakehouse.s3_access import credential_variables  # noqa: E402

LIST = ROOT / "deploy" / "locations.toml"
# What a new location's name must not be: the repository's other top-level folders and the
# compose file's other services.
RESERVED = {
    "lakehouse", "deploy", "tests", "bench", "docs", "build", "artifacts", "dagster", "postgres",
    "s3", "init", "migrate", "daemon", "webserver", "proxy", "sentinel", "stores", "admin",
    "compute_logs", "instance",
}  # fmt: skip
# A package name, a compose service (a host name on its network) and a Kubernetes Service (a
# DNS label: no "_") at once.
NEW_NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
# Every location's S3 key may read what the template's sample asset reads.
TEMPLATE_READS = ("lake/sales_summary/",)
MARKER = re.compile(r"^(?P<indent> *)# >>> locations: (?P<block>[a-z0-9-]+)\n", re.MULTILINE)
PYTHON_IMAGE_DEFAULT = "${PYTHON_IMAGE:-python:3.11.14-slim-bookworm}"
GENERATED = "Rendered from deploy/locations.toml by deploy/locations.py: edit the list, not this."


def _required(variable: str) -> str:
    return f"${{{variable}:?set {variable} in .env (make env)}}"


# ---------------------------------------------------------------- whole files


def workspace_yaml(locations: dict[str, Location]) -> str:
    lines = [
        f"# {GENERATED}",
        "# Each code location, served by its own gRPC code server (`dagster code-server start`).",
        "# Hosts and ports come from the environment so one file serves every topology: `make dev`",
        "# sets 127.0.0.1 and the list's ports, docker compose sets the service names.",
        "load_from:",
    ]
    for location in locations.values():
        lines += [
            "  - grpc_server:",
            f"      location_name: {location.name}",
            f"      host: {{env: DAGSTER_{location.env_prefix}_HOST}}",
            f"      port: {{env: DAGSTER_{location.env_prefix}_PORT}}",
        ]
    return "\n".join(lines) + "\n"


def codeowners(locations: dict[str, Location], org: str) -> str:
    lines = [
        f"# {GENERATED}",
        "# Each team owns its code location's folder; the platform team owns the rest.",
        f"* @{org}/platform",
    ]
    lines += [f"/{location.name}/ @{org}/{location.team}" for location in locations.values()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- docker-compose.yml blocks


def _anchor_keys(text: str, name: str) -> list[str]:
    """The variables of the ``x-<name>-env`` anchor in the compose file's text."""
    match = re.search(rf"^x-{name}-env: &{name}-env\n((?:  [A-Z0-9_]+:.*\n)+)", text, re.M)
    if match is None:
        raise ValueError(f"docker-compose.yml: no x-{name}-env anchor for location {name}")
    return re.findall(r"^  ([A-Z0-9_]+):", match.group(1), re.M)


def _wrapped_json_list(names: list[str], width: int = 90) -> list[str]:
    """``["A", "B", ...]`` over lines broken only after ", " (a folded scalar joins them with
    one space, so the string compose sees is the same however it wraps)."""
    items = [f'"{n}"' for n in names]
    lines, current = [], '{"docker": {"env_vars": ['
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "],")
        if len(current) + len(piece) + 1 > width and not current.endswith("["):
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if not current.endswith("[") else current + piece
    lines.append(current)
    return lines


def compose_blocks(
    locations: dict[str, Location], hand_text: str
) -> dict[str, Callable[[str], str]]:
    """Block name -> renderer of the block's lines given the text around them (for anchors).
    ``hand_text`` is the file with every generated block emptied: what a person wrote."""
    names = list(locations)
    generated_env = [n for n in names if f"x-{n}-env: &{n}-env" not in hand_text]

    def hosts(_text: str) -> str:
        return "".join(
            f"  DAGSTER_{loc.env_prefix}_HOST: {loc.name}\n"
            f'  DAGSTER_{loc.env_prefix}_PORT: "4000"\n'
            for loc in locations.values()
        )

    def env(_text: str) -> str:
        out = []
        for name in generated_env:
            loc = locations[name]
            key, secret = credential_variables(loc.name)
            automation = f"{loc.env_prefix}_AUTOMATION_SECONDS"
            out += [
                f"# {name}'s own secrets and settings (owned by team {loc.team}).",
                f"x-{name}-env: &{name}-env",
                f"  {loc.env_prefix}_S3_ACCESS_KEY_ID: {_required(key)}",
                f"  {loc.env_prefix}_S3_SECRET_ACCESS_KEY: {_required(secret)}",
                f"  {automation}: ${{{automation}:-1}}",
                "",
            ]
        return "".join(line + "\n" for line in out)

    def s3_keys(_text: str) -> str:
        out = []
        for loc in locations.values():
            for variable in credential_variables(loc.name):
                out.append(f"      {variable}: ${{{variable}}}\n")
        return "".join(out)

    def services(text: str) -> str:
        out = [
            "  # A code location each: its gRPC code server, from its own image.",
            "  # DAGSTER_CURRENT_IMAGE is exactly the tag it runs (the run launcher starts its",
            "  # runs from it); DAGSTER_CONTAINER_CONTEXT names (never values) the variables its",
            "  # run containers get on top of the instance's (its x-<name>-env anchor), and each",
            "  # run container's memory limit: a run that exceeds it is killed and fails with a",
            "  # message saying so (not retried).",
        ]
        for loc in locations.values():
            image = f"${{IMAGE_PREFIX:-lakehouse}}/{loc.name}:${{{loc.env_prefix}_TAG:-dev}}"
            context = _wrapped_json_list(_anchor_keys(text, loc.name))
            memory = f"${{{loc.env_prefix}_RUN_MEMORY:-1g}}"
            out += [
                f"  {loc.name}:",
                f"    image: {image}",
                "    build:",
                "      context: .",
                f"      dockerfile: {loc.name}/Dockerfile",
                "      args:",
                f"        PYTHON_IMAGE: {PYTHON_IMAGE_DEFAULT}",
                "    environment:",
                f"      <<: [*instance-env, *{loc.name}-env]",
                "      LAKEHOUSE_ALERT_WEBHOOK_URL: ${LAKEHOUSE_ALERT_WEBHOOK_URL:-}",
                f"      DAGSTER_CURRENT_IMAGE: {image}",
                "      DAGSTER_CONTAINER_CONTEXT: >-",
                *(f"        {line}" for line in context),
                f'        "container_kwargs": {{"mem_limit": "{memory}"}}}}}}',
                "    restart: unless-stopped",
                "    mem_limit: 768m",
                "    logging: *logging",
                "",
            ]
        return "".join(line + "\n" for line in out)

    def daemon_env(_text: str) -> str:
        anchors = ", ".join(f"*{n}-env" for n in names)
        return f"      <<: [*instance-env, {anchors}]\n"

    def depends(indent: str) -> Callable[[str], str]:
        def render(_text: str) -> str:
            return "".join(f"{indent}{n}: {{condition: service_healthy}}\n" for n in names)

        return render

    return {
        "hosts": hosts,
        "env": env,
        "s3-keys": s3_keys,
        "services": services,
        "daemon-env": daemon_env,
        "webserver-depends": depends("    "),
        "daemon-depends": depends("      "),
    }


def env_example_blocks(locations: dict[str, Location]) -> dict[str, Callable[[str], str]]:
    def s3_keys(_text: str) -> str:
        return "".join(
            f"{v}=\n" for loc in locations.values() for v in credential_variables(loc.name)
        )

    def run_memory(_text: str) -> str:
        return "".join(
            f"# {loc.env_prefix + '_RUN_MEMORY=1g':<36} # memory limit of each {loc.name} "
            "run's container\n"
            for loc in locations.values()
        )

    return {"s3-keys": s3_keys, "run-memory": run_memory}


def kubernetes_blocks(
    locations: dict[str, Location], hand_text: str
) -> dict[str, Callable[[str], str]]:
    """values.yaml: a deployment for each location the file does not already have by hand,
    with the settings every location shares (the anchors of the first one)."""

    def deployments(_text: str) -> str:
        out = []
        for loc in locations.values():
            if f"    - name: {loc.name}\n" in hand_text:
                continue
            out += [
                f"    - name: {loc.name}",
                "      image:",
                f"        repository: lakehouse/{loc.name}",
                "        tag: dev",
                "        pullPolicy: IfNotPresent",
                f"      codeServerArgs: [-m, {loc.name}.definitions, --location-name, {loc.name}]",
                "      port: 4000",
                "      includeConfigInLaunchedRuns:",
                "        enabled: true",
                "      env:",
                f'        {loc.env_prefix}_AUTOMATION_SECONDS: "1"',
                "      envConfigMaps:",
                "        - name: lakehouse-settings",
                "      envSecrets:",
                f"        - name: lakehouse-{loc.name}",
                "        - name: lakehouse-alerts",
                "      podSecurityContext: *pod-security",
                "      securityContext: *container-security",
                "      resources: *location-resources",
                "      readinessProbe: *grpc-readiness",
                "      livenessProbe: *grpc-liveness",
                "      startupProbe: *grpc-startup",
            ]
        return "".join(line + "\n" for line in out)

    return {"kubernetes": deployments}


def _spans(text: str, path: Path) -> list[tuple[str, int, int]]:
    """(block, start, end) of each marked block's content, in order."""
    spans = []
    for match in MARKER.finditer(text):
        block = match.group("block")
        end_marker = re.compile(rf"^ *# <<< locations: {re.escape(block)}\n", re.M)
        end = end_marker.search(text, match.end())
        if end is None:
            raise ValueError(f"{path}: block {block!r} has no '# <<< locations: {block}' line")
        spans.append((block, match.end(), end.start()))
    return spans


def render_blocks(
    text: str, path: Path, blocks: Callable[[str], dict[str, Callable[[str], str]]]
) -> str:
    """The text with each marked block rendered; the blocks in file order, each renderer seeing
    the text as rendered so far (so the services block sees the env anchors above it)."""
    spans = _spans(text, path)
    hand = text
    for _block, start, end in reversed(spans):
        hand = hand[:start] + hand[end:]
    renderers = blocks(hand)
    seen = {block for block, _start, _end in spans}
    missing = set(renderers) - seen
    if missing:
        raise ValueError(f"{path}: no '# >>> locations: <block>' line for {sorted(missing)}")
    for block, _start, _end in spans:
        if block not in renderers:
            raise ValueError(f"{path}: unknown block {block!r}")
    # Render front to back; recompute spans each time, as earlier blocks change the offsets.
    for index in range(len(spans)):
        block, start, end = _spans(text, path)[index]
        text = text[:start] + renderers[block](text) + text[end:]
    return text


def rendered(root: Path = ROOT) -> dict[Path, str]:
    """Every file the list renders, with the content it should have."""
    locations = load(root / "deploy" / "locations.toml")
    org = github_org(root / "deploy" / "locations.toml")
    compose = root / "docker-compose.yml"
    env_example = root / ".env.example"
    values = root / "deploy" / "kubernetes" / "values.yaml"
    return {
        root / "workspace.yaml": workspace_yaml(locations),
        root / ".github" / "CODEOWNERS": codeowners(locations, org),
        compose: render_blocks(
            compose.read_text(), compose, lambda hand: compose_blocks(locations, hand)
        ),
        env_example: render_blocks(
            env_example.read_text(), env_example, lambda _hand: env_example_blocks(locations)
        ),
        values: render_blocks(
            values.read_text(), values, lambda hand: kubernetes_blocks(locations, hand)
        ),
    }


def render(root: Path = ROOT) -> list[Path]:
    changed = []
    for path, content in rendered(root).items():
        if not path.exists() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            changed.append(path)
    return changed


def check(root: Path = ROOT) -> list[Path]:
    return [p for p, c in rendered(root).items() if not p.exists() or p.read_text() != c]


# ---------------------------------------------------------------- add and remove


def add(name: str, team: str, root: Path = ROOT) -> Path:
    list_file = root / "deploy" / "locations.toml"
    locations = load(list_file)
    if not NEW_NAME.match(name):
        raise ValueError(
            f"{name!r}: a new location's name is lower-case letters and digits (2-31), as it is"
            " a Python package, a compose service and a Kubernetes Service name at once"
        )
    if not NAME.match(team.replace("-", "_")):
        raise ValueError(f"team {team!r}: lower-case letters, digits, - and _ (2-31 characters)")
    if name in locations or name in RESERVED or (root / name).exists():
        raise ValueError(f"{name!r} is taken (a location, a folder or a service of that name)")
    target = root / name
    template = root / "deploy" / "location-template"
    for source in sorted(template.rglob("*")):
        if "__pycache__" in source.parts or source.suffix == ".pyc":
            continue
        relative = source.relative_to(template)
        # Its Python files and pyproject.toml end in .tmpl, so no linter, type checker or test
        # runner reads the placeholders as code or configuration.
        destination = target / _fill(str(relative), name, team).removesuffix(".tmpl")
        if source.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(_fill(source.read_text(), name, team))
    port = max(location.port for location in locations.values()) + 1
    reads = ", ".join(f'"{p}"' for p in (*TEMPLATE_READS, f"lake/{name}/"))
    text = list_file.read_text().rstrip("\n")
    list_file.write_text(
        f'{text}\n\n[locations.{name}]\nteam = "{team}"\nport = {port}\n'
        f's3_read = [{reads}]\ns3_write = ["lake/{name}/"]\n'
    )
    render(root)
    return target


def _fill(text: str, name: str, team: str) -> str:
    return (
        text.replace("{{name}}", name).replace("{{NAME}}", name.upper()).replace("{{team}}", team)
    )


def remove(name: str, root: Path = ROOT) -> None:
    list_file = root / "deploy" / "locations.toml"
    locations = load(list_file)
    if name not in locations:
        raise ValueError(f"{list_file}: no location {name!r} (there are {', '.join(locations)})")
    if len(locations) == 1:
        raise ValueError("the last location cannot be removed")
    text = list_file.read_text()
    entry = re.compile(rf"\n*^\[locations\.{name}\]\n(?:^(?!\[).*\n?)*", re.M)
    list_file.write_text(entry.sub("\n\n", text, count=1).rstrip("\n") + "\n")
    render(root)
    (root / "tests" / "snapshots" / f"{name}.json").unlink(missing_ok=True)
    folder = root / name
    pyproject = folder / "pyproject.toml"
    if pyproject.exists() and f'name = "{name}"' in pyproject.read_text():
        shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("add")
    new.add_argument("name")
    new.add_argument("--team", required=True)
    gone = commands.add_parser("remove")
    gone.add_argument("name")
    for command in ("render", "check", "names"):
        commands.add_parser(command)
    args = parser.parse_args(argv)
    try:
        if args.command == "names":
            print("\n".join(load(LIST)))  # noqa: T201
        elif args.command == "render":
            for path in render():
                print(f"rendered {path.relative_to(ROOT)}")  # noqa: T201
        elif args.command == "check":
            stale = check()
            for path in stale:
                print(  # noqa: T201
                    f"{path.relative_to(ROOT)} differs from deploy/locations.toml: "
                    "python3 deploy/locations.py render",
                    file=sys.stderr,
                )
            return 1 if stale else 0
        elif args.command == "add":
            target = add(args.name, args.team)
            print(f"created {target.relative_to(ROOT)}/ (team {args.team}); rendered the wiring")  # noqa: T201
        elif args.command == "remove":
            remove(args.name)
            print(  # noqa: T201
                f"removed {args.name}: its folder and its wiring; its data stays in the lake "
                f"under lake/{args.name}/"
            )
    except ValueError as exc:
        print(f"locations: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
