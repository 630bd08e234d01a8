"""EventBridge "CodeBuild Build State Change" events → boto3-shaped `Build` records.

Field names from docs/reference/codebuild-facts.md ("EventBridge"): `detail` holds
`build-status`, `project-name`, `build-id` (the full ARN), `current-phase`, and
`additional-information` with kebab-case copies of the build's fields, whose dates are
strings like `Sep 1, 2017 4:12:29 PM` (taken as UTC: the events carry no zone).
The record produced goes through `normalise_build` like any API record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ciwb.codebuild.arns import id_of_arn
from ciwb.codebuild.clock import to_utc
from ciwb.errors import CiwbError

__all__ = ["BUILD_STATE_CHANGE", "build_from_event", "event_date", "read_build_events"]

BUILD_STATE_CHANGE = "CodeBuild Build State Change"


def event_date(value: Any) -> datetime | None:
    """`Sep 1, 2017 4:12:29 PM` (or any form `to_utc` takes) → naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        for fmt in ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p"):
            try:
                return datetime.strptime(value.replace("\u202f", " "), fmt)
            except ValueError:
                pass
    return to_utc(value)


def _contexts(raw: Any) -> list[dict[str, str]]:
    out = []
    for ctx in raw or ():
        if isinstance(ctx, dict):
            out.append(
                {"statusCode": ctx.get("status-code", ""), "message": ctx.get("message", "")}
            )
        elif isinstance(ctx, str) and ctx.strip(": []"):
            code, _, message = ctx.partition(":")
            out.append({"statusCode": code.strip(), "message": message.strip()})
    return out


def _kebab_to_camel(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("-")
            out[head + "".join(p[:1].upper() + p[1:] for p in rest)] = _kebab_to_camel(item)
        return out
    if isinstance(value, list):
        return [_kebab_to_camel(v) for v in value]
    return value


def build_from_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """A Build record from one state-change event; None for other event types."""
    if event.get("detail-type") != BUILD_STATE_CHANGE:
        return None
    detail = event.get("detail") or {}
    info = detail.get("additional-information") or {}
    arn = detail.get("build-id") or (event.get("resources") or [None])[0]
    if not arn:
        raise ValueError("event has no build-id")
    build_id = id_of_arn(arn)
    phases = []
    for phase in info.get("phases") or ():
        entry: dict[str, Any] = {"phaseType": phase.get("phase-type")}
        for src, dst in (
            ("phase-status", "phaseStatus"),
            ("duration-in-seconds", "durationInSeconds"),
        ):
            if phase.get(src) is not None:
                entry[dst] = phase[src]
        for src, dst in (("start-time", "startTime"), ("end-time", "endTime")):
            if phase.get(src):
                entry[dst] = event_date(phase[src])
        contexts = _contexts(phase.get("phase-context"))
        if contexts:
            entry["contexts"] = contexts
        phases.append(entry)
    complete = bool(info.get("build-complete"))
    end = None
    if complete:
        # Events carry no build end time: the COMPLETED phase starts when the build ends.
        done = [p for p in phases if p.get("phaseType") == "COMPLETED" and p.get("startTime")]
        ends = [p["endTime"] for p in phases if p.get("endTime")]
        end = done[0]["startTime"] if done else (max(ends) if ends else to_utc(event.get("time")))
    number = info.get("build-number")
    record: dict[str, Any] = {
        "id": build_id,
        "arn": arn,
        "buildNumber": int(number) if number is not None else None,
        "projectName": detail.get("project-name"),
        "buildStatus": detail.get("build-status"),
        "currentPhase": detail.get("current-phase"),
        "buildComplete": complete,
        "startTime": event_date(info.get("build-start-time")),
        "endTime": end,
        "phases": phases,
        "initiator": info.get("initiator"),
        "sourceVersion": info.get("source-version"),
        "timeoutInMinutes": info.get("timeout-in-minutes"),
        "queuedTimeoutInMinutes": info.get("queued-timeout-in-minutes"),
    }
    for key in ("environment", "source", "cache", "logs", "artifact", "vpc-config"):
        if key in info:
            record[_kebab_to_camel({key: None}).popitem()[0]] = _kebab_to_camel(info[key])
    if "artifact" in record:
        record["artifacts"] = record.pop("artifact")
    return {k: v for k, v in record.items() if v is not None}


def read_build_events(
    path: str | os.PathLike[str],
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, Build record or None, skip reason) per line of an events file."""
    path = Path(path)
    if not path.is_file():
        raise CiwbError(f"{path}: no such file")
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise CiwbError(f"{path}:{number}: not valid JSON: {exc}") from None
            try:
                record = build_from_event(event)
            except (ValueError, KeyError, TypeError) as exc:
                raise CiwbError(f"{path}:{number}: not a CodeBuild event: {exc}") from None
            yield number, record, None if record else str(event.get("detail-type"))
