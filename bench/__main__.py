"""``python -m bench [--quick | --full] [--only NAME ...] [--billing-size N] [--soak SECONDS]``: runs the
benchmarks, prints one table (each figure beside its baseline measured in the same run) and writes
``bench/results/<timestamp>.json``. ``--soak`` runs the memory soak instead (registrations for that
long, each process's RSS sampled)."""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

RESULTS = Path(__file__).parent / "results"
NAMES = ("pipeline", "billing", "api", "login")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem / 1024 / 1024, 1),
            "loadavg_at_start": os.getloadavg(), "python": platform.python_version(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=Path(__file__).parent).stdout.strip()}


# RabbitMQ keeps the state of the quorum queues deleted by earlier runs (each run declares and deletes
# its own) in memory and in its write-ahead log. At about 0.2 GB of it, a broker here ran the bare
# chain at 55-65 % of its rate after a restart (2026-11-25), and single registrations took 20-50 %
# longer (2026-12-06; docs/performance.md, "Fifth pass"). Above this, the bench says so.
STALE_QUORUM_MIB = 100


def broker() -> dict:
    """What the local RabbitMQ holds for quorum queues (``rabbitmqctl``, when this user may run it and
    the benchmarks' broker is the local one)."""
    from bench.harness import AMQP_URL

    if urlsplit(AMQP_URL).hostname not in ("127.0.0.1", "localhost", "::1"):
        return {}
    try:
        out = subprocess.run(["rabbitmqctl", "status", "--formatter", "json"], capture_output=True, text=True, timeout=30)
        memory = json.loads(out.stdout)["memory"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return {}
    return {"quorum_ets_mib": round(memory["quorum_ets"] / 2**20, 1)} if "quorum_ets" in memory else {}


def rows(results: dict) -> list[tuple]:
    """(benchmark, figure, value, baseline, ratio, target, met)."""
    out = []

    def row(bench, figure, value, baseline, target, met, unit="", digits=1):
        ratio = f"{value / baseline:.0%}" if isinstance(baseline, (int, float)) and baseline else "-"
        fmt = lambda v: f"{v:,.{digits}f}{unit}" if isinstance(v, (int, float)) else (v or "-")  # noqa: E731
        out.append((bench, figure, fmt(value), fmt(baseline), ratio, target, "yes" if met else "NO"))

    if p := results.get("pipeline"):
        rate, base = p["sustained"]["per_second"], p["baseline_per_second"]
        row("welcome pipeline", "registrations/s -> email (vs 4-hop chain msg/s)", rate, base, ">= 40%", rate >= 0.4 * base)
        row("welcome pipeline", "single registration p50 ms", p["latency"]["p50_ms"], None, "<= 15 ms", p["latency"]["p50_ms"] <= 15)
        row("welcome pipeline", "single registration p99 ms", p["latency"]["p99_ms"], None, "<= 40 ms", p["latency"]["p99_ms"] <= 40)
        compact = lambda d: " ".join(f"{k[:4]} {v:g}" for k, v in d.items())  # noqa: E731
        if hops := p.get("single_hops_p50_ms"):
            row("welcome pipeline", "single registration's hops, p50 ms each (see docs/performance.md)",
                " / ".join(f"{v:.1f}" for v in hops.values()), None, "-", True)
        row("welcome pipeline", "peak RSS MiB (VmHWM) per process", compact(p["peak_rss_mib"]), None, "-", True)
        if "commits_per_registration" in p:
            row("welcome pipeline", "database commits per registration (incl. polling)", p["commits_per_registration"], None, "-", True)
            row("welcome pipeline", "database rows written per registration", p.get("rows_written_per_registration"), None, "-", True)
        if "cpu_ms_per_registration" in p:
            row("welcome pipeline", "CPU ms per registration per process", compact(p["cpu_ms_per_registration"]), None, "-", True)
        if "machine_cpu_ms_per_registration" in p:
            # The rate's ratio is about the inverse of this one when both runs keep the cores busy.
            row("welcome pipeline", f"CPU ms per registration, whole machine ({p['machine_busy']:.0%} busy; vs per chain message)",
                p["machine_cpu_ms_per_registration"], p.get("baseline_machine_cpu_ms_per_message"), "-", True, digits=2)
    if b := results.get("billing"):
        rate, base = b["per_second"], b["baseline_per_second"]
        row("billing run", f"subscriptions/s, 2 workers, n={b['subscriptions']:,}", rate, base, ">= 60%", rate >= 0.6 * base)
        with_startup = b["per_second_with_startup"]
        row("billing run", "subscriptions/s counting the 2 processes' start-up", with_startup, base, "-", True)
        row("billing run", "exactly once (invoices = payments = charges = n)", "yes" if b["exactly_once"] else "NO", None, "exactly once", b["exactly_once"])
        full = b["subscriptions"] >= 1_000_000
        # Projected: the start-up measured here, then a million at the working rate.
        seconds = b["seconds"] if full else b["seconds"] - b["working_seconds"] + 1_000_000 / rate
        row("billing run", "1M subscriptions, seconds" + ("" if full else " (projected)"), seconds, None, "< 600 s", seconds < 600)
        row("billing run", "until the relay published every event, seconds", b["end_to_end_seconds"], None, "-", True)
        if (cpu := b.get("cpu_us_per_subscription")) and (base_cpu := b.get("baseline_cpu_us_per_subscription")):
            runs, base_runs = cpu["runs"] + cpu["postgres_runs"], base_cpu["workers"] + base_cpu["postgres"]
            row("billing run", f"CPU us/subscription, runs + their postgres ({cpu['runs']:g} + {cpu['postgres_runs']:g};"
                f" vs workers + postgres {base_cpu['workers']:g} + {base_cpu['postgres']:g})", runs, base_runs, "-", True)
            row("billing run", "CPU us/subscription, sandbox + relay + services' postgres"
                f" ({cpu['sandbox']:g} + {cpu['relay']:g} + {cpu['postgres_services']:g})",
                cpu["sandbox"] + cpu["relay"] + cpu["postgres_services"], None, "-", True)
            if "rabbitmq" in cpu:
                row("billing run", "CPU us/subscription, RabbitMQ taking the relay's messages", cpu["rabbitmq"], None, "-", True)
            if "machine" in cpu and "machine" in base_cpu:
                row("billing run", "CPU us/subscription, whole machine while the runs work (vs the baseline's)",
                    cpu["machine"], base_cpu["machine"], "-", True)
    if a := results.get("api"):
        base = a["baseline"]
        for path in ("/api/me", "/api/orders", "/api/invoices", "/api/can-open"):
            if path not in a:
                continue
            r = a[path]
            target = path == "/api/orders"
            row("customer API", f"GET {path} req/s (vs bare handler)", r["per_second"], base["per_second"],
                ">= 2500 req/s" if target else "-", r["per_second"] >= 2500 if target else True)
            row("customer API", f"GET {path} p99 ms", r["p99_ms"], base["p99_ms"], "<= 50 ms" if target else "-",
                r["p99_ms"] <= 50 if target else True)
            if "cpu_ms_per_request" in r and "cpu_ms_per_request" in base:
                services = " + ".join(k for k in r["cpu_ms_per_request"] if k != "total")
                row("customer API", f"GET {path} CPU ms/request, {services} (vs bare handler)",
                    r["cpu_ms_per_request"]["total"], base["cpu_ms_per_request"]["total"], "-", True, digits=3)
            if r["errors"]:
                row("customer API", f"GET {path} non-2xx answers", r["errors"], None, "0", False)
    if sk := results.get("soak"):
        for name, g in sk["growth_mib"].items():
            row("memory soak", f"{name} RSS MiB at the end (baseline: at the start; middle {g['middle']:,.1f})",
                g["end"], g["start"], "2nd half < +5 MiB", g["second_half"] < 5)
        row("memory soak", "registrations/s during the soak", sk["per_second"], None, "-", True)
    if lg := results.get("login"):
        row("login", "logins/s, 20 at once (vs argon2id hashes/s, 1 core)", lg["per_second"], lg["baseline_per_second"], "-", True)
        lag = lg["healthz_under_load"]["p99_ms"]
        row("login", "auth /healthz p99 ms under 20 logins (loop lag proxy)", lag, lg["healthz_idle"]["p99_ms"], "<= 50 ms", lag <= 50)
        row("login", "auth /healthz max ms under 20 logins", lg["healthz_under_load"]["max_ms"], lg["healthz_idle"]["max_ms"], "-", True)
    return out


def table(results: dict) -> str:
    header = ("benchmark", "figure", "value", "baseline", "ratio", "target", "met")
    body = rows(results)
    widths = [max(len(str(r[i])) for r in (header, *body)) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body)])


async def main(args) -> dict:
    from bench import api, billing, login, pipeline

    results: dict = {}
    for name in args.only or NAMES:
        started = time.monotonic()
        if name == "soak":
            results[name] = await pipeline.soak(args.soak)
        elif name == "billing":
            results[name] = await billing.run(args.quick, args.full, args.billing_size)
        else:
            results[name] = await {"pipeline": pipeline, "api": api, "login": login}[name].run(args.quick, args.full)
        results[name]["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small numbers: the whole run in under a minute")
    parser.add_argument("--full", action="store_true", help="big numbers: 1,000,000 subscriptions in the billing run")
    parser.add_argument("--only", nargs="*", choices=NAMES)
    parser.add_argument("--billing-size", type=int, default=None, help="due subscriptions in the billing run")
    parser.add_argument("--soak", type=float, default=None, metavar="SECONDS",
                        help="memory soak: registrations for SECONDS, RSS of every process sampled (alone unless --only)")
    args = parser.parse_args()
    if args.soak:
        args.only = [*(args.only or []), "soak"]
    if os.environ.get("CC_UVLOOP", "true").lower() not in ("0", "false", "no", "off"):
        import uvloop

        uvloop.install()
    started_at = datetime.now(timezone.utc)
    at_start = machine()  # the load and the commit when it starts: a long run outlasts both
    at_start["broker_at_start"] = broker()
    t0 = time.monotonic()
    results = asyncio.run(main(args))
    mode = "soak" if args.soak else "quick" if args.quick else "full" if args.full else "default"
    report = {"started_at": started_at.isoformat(), "mode": mode, "wall_seconds": round(time.monotonic() - t0, 1),
              "machine": {**at_start, "loadavg_at_end": os.getloadavg()}, "results": results, "table": [list(r) for r in rows(results)]}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started_at:%Y%m%dT%H%M%SZ}-{mode}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"Customer Center benchmarks ({mode}, {report['wall_seconds']} s, {report['machine']['nproc']} cores,"
          f" {report['machine']['cpu']}, load at start {report['machine']['loadavg_at_start'][0]:.1f})")
    quorum = at_start["broker_at_start"].get("quorum_ets_mib")
    if quorum is not None:
        print(f"RabbitMQ at the start: {quorum:,.1f} MiB of quorum-queue state")
        if quorum > STALE_QUORUM_MIB:
            print(f"  more than {STALE_QUORUM_MIB} MiB (left by earlier runs, or a backlog in live queues): the broker"
                  " may be slower than it is fresh"
                  " (restart it, `rabbitmqctl stop; rabbitmq-server -detached`, for figures comparable across runs)")
    print(table(results))
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
