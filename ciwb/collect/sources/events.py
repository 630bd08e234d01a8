"""EventBridge CodeBuild events, as people save them → boto3-shaped `Build` records.

Field names from docs/reference/codebuild-facts.md ("EventBridge"): `detail` holds
`build-status`, `project-name`, `build-id` (the full ARN), `current-phase`, and
`additional-information` with kebab-case copies of the build's fields, whose dates are
strings like `Sep 1, 2017 4:12:29 PM` (taken as UTC: the events carry no zone).
"CodeBuild Build Phase Change" events carry the same `additional-information` (the phases so
far) plus `completed-phase`, `completed-phase-status`, `-start`, `-end`, `-duration-seconds`
and no `build-status`. The record produced goes through `normalise_build` like any API record.

Events are saved in many shapes: one JSON per line, pretty-printed documents (as the user
guide prints them), JSON arrays, and objects concatenated with no separator at all (what
Kinesis Data Firehose writes to S3, optionally gzipped). `read_events` takes every one of
them from files, gzip files, directories and `s3://bucket/prefix`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ciwb.codebuild.arns import id_of_arn
from ciwb.codebuild.clock import to_utc
from ciwb.codebuild.phases import FAILURE_STATUSES, PHASE_ORDER
from ciwb.errors import CiwbError

__all__ = [
    "BUILD_PHASE_CHANGE",
    "BUILD_STATE_CHANGE",
    "BuildEvent",
    "build_from_event",
    "event_date",
    "inferred_status",
    "merge_phases",
    "read_build_events",
    "read_events",
]

BUILD_STATE_CHANGE = "CodeBuild Build State Change"
BUILD_PHASE_CHANGE = "CodeBuild Build Phase Change"
_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class BuildEvent:
    """One event read back: where it came from, its type and the Build record it gives."""

    origin: str  # file:line (or s3://bucket/key:line), for messages
    seq: int  # position across everything read, to break ties between equal events
    detail_type: str
    record: dict[str, Any] | None  # None: not a CodeBuild build event ciwb can attribute


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
    if isinstance(raw, str):
        # `completed-phase-context` is a string: "[]" or "[: message]" style
        raw = [raw.strip("[]")] if raw.strip("[] ") else []
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


def _phase(phase: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"phaseType": phase.get("phase-type")}
    for src, dst in (("phase-status", "phaseStatus"), ("duration-in-seconds", "durationInSeconds")):
        if phase.get(src) is not None:
            entry[dst] = phase[src]
    for src, dst in (("start-time", "startTime"), ("end-time", "endTime")):
        if phase.get(src):
            entry[dst] = event_date(phase[src])
    contexts = _contexts(phase.get("phase-context"))
    if contexts:
        entry["contexts"] = contexts
    return entry


def _completed_phase(detail: dict[str, Any]) -> dict[str, Any] | None:
    """The phase a phase-change event reports, from its `completed-phase-*` fields."""
    kind = detail.get("completed-phase")
    if not kind:
        return None
    return _phase(
        {
            "phase-type": kind,
            "phase-status": detail.get("completed-phase-status"),
            "duration-in-seconds": detail.get("completed-phase-duration-seconds"),
            "start-time": detail.get("completed-phase-start"),
            "end-time": detail.get("completed-phase-end"),
            "phase-context": detail.get("completed-phase-context"),
        }
    )


def _phase_key(phase: dict[str, Any]) -> int:
    kind = phase.get("phaseType")
    return PHASE_ORDER.index(kind) if kind in PHASE_ORDER else len(PHASE_ORDER)


def merge_phases(
    old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`old` phases updated by `new` ones of the same type (new wins), in phase order."""
    by_type: dict[Any, dict[str, Any]] = {p.get("phaseType"): dict(p) for p in old}
    for phase in new:
        kind = phase.get("phaseType")
        known = by_type.get(kind)
        # an event about a phase that has ended never loses to one taken while it ran
        if known is not None and known.get("endTime") and not phase.get("endTime"):
            continue
        by_type[kind] = {**(known or {}), **phase}
    return sorted(by_type.values(), key=_phase_key)


def inferred_status(phases: Sequence[dict[str, Any]]) -> str:
    """A complete build's status from its phases (phase-change events carry no build status).

    Inferred, not documented: the build takes the status of its first phase that did not
    succeed, else SUCCEEDED.
    """
    for phase in sorted(phases, key=_phase_key):
        if phase.get("phaseStatus") in FAILURE_STATUSES:
            return str(phase["phaseStatus"])
    return "SUCCEEDED"


def _end_time(phases: Sequence[dict[str, Any]], event: dict[str, Any]) -> datetime | None:
    # Events carry no build end time: the COMPLETED phase starts when the build ends.
    done = [p for p in phases if p.get("phaseType") == "COMPLETED" and p.get("startTime")]
    ends = [p["endTime"] for p in phases if p.get("endTime")]
    return done[0]["startTime"] if done else (max(ends) if ends else to_utc(event.get("time")))


def build_from_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """A Build record from one state- or phase-change event; None for other event types.

    A phase-change record has no `buildStatus` of its own: IN_PROGRESS while the build runs,
    inferred from the phases once `build-complete` (see `inferred_status`).
    """
    kind = event.get("detail-type")
    if kind not in (BUILD_STATE_CHANGE, BUILD_PHASE_CHANGE):
        return None
    detail = event.get("detail") or {}
    info = detail.get("additional-information") or {}
    arn = detail.get("build-id") or (event.get("resources") or [None])[0]
    if not arn:
        if kind == BUILD_PHASE_CHANGE:
            return None  # nothing to attach it to
        raise ValueError("event has no build-id")
    build_id = id_of_arn(arn)
    phases = [_phase(p) for p in info.get("phases") or ()]
    status = detail.get("build-status")
    current = detail.get("current-phase")
    if kind == BUILD_PHASE_CHANGE:
        # The phases list is the event's snapshot; the completed-phase fields fill it in only
        # where it lacks that phase's end. COMPLETED has a start only: the user guide's own
        # example gives it FINALIZING's start and end, which must not move the build's end.
        completed = _completed_phase(detail)
        listed = {p.get("phaseType"): p for p in phases}
        if (
            completed is not None
            and completed["phaseType"] != "COMPLETED"
            and not (listed.get(completed["phaseType"]) or {}).get("endTime")
        ):
            phases = merge_phases(phases, [completed])
        running = [p for p in phases if not p.get("endTime")]
        current = running[-1]["phaseType"] if running else current
    complete = bool(info.get("build-complete"))
    if kind == BUILD_PHASE_CHANGE:
        status = inferred_status(phases) if complete else "IN_PROGRESS"
        current = "COMPLETED" if complete else current
    number = info.get("build-number")
    record: dict[str, Any] = {
        "id": build_id,
        "arn": arn,
        "buildNumber": int(number) if number is not None else None,
        "projectName": detail.get("project-name") or build_id.split(":", 1)[0],
        "buildStatus": status,
        "currentPhase": current,
        "buildComplete": complete,
        "startTime": event_date(info.get("build-start-time")),
        "endTime": _end_time(phases, event) if complete else None,
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


# ---------------------------------------------------------------------- reading what was saved


def _decode(data: bytes, origin: str) -> str:
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CiwbError(f"{origin}: not a readable gzip file: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CiwbError(f"{origin}: not UTF-8 text: {exc}") from None


def json_documents(text: str, origin: str) -> Iterator[tuple[int, Any]]:
    """(line, value) for each JSON value in `text`, whatever separates them (or nothing).

    Covers NDJSON, pretty-printed documents one after another, and Firehose's objects
    concatenated with no separator; a top-level array yields its elements.
    """
    decoder = json.JSONDecoder()
    pos, end, line, counted = 0, len(text), 1, 0
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, after = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            at = line + text.count("\n", pos, exc.pos)
            raise CiwbError(f"{origin}:{at}: not valid JSON: {exc.msg}") from None
        if isinstance(value, list):
            for item in value:
                yield line, item
        else:
            yield line, value
        pos = after


def _blobs(source: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    text = os.fspath(source)
    if text.startswith("s3://"):
        yield from _s3_blobs(text)
        return
    path = Path(text)
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            if not item.name.startswith("."):
                yield str(item), item.read_bytes()
    elif path.is_file():
        yield str(path), path.read_bytes()
    else:
        raise CiwbError(f"{path}: no such file or directory")


def _s3_blobs(url: str) -> Iterator[tuple[str, bytes]]:
    """Every object under an `s3://bucket/prefix`, in key order (Firehose's keys sort by time)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise CiwbError(f"{url}: no bucket named", hint="use s3://BUCKET/PREFIX")
    client = boto3.client("s3")
    try:
        keys = [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for obj in page.get("Contents") or ()
            if not obj["Key"].endswith("/")
        ]
        if not keys:
            raise CiwbError(f"{url}: no objects under this prefix")
        for key in sorted(keys):
            yield f"s3://{bucket}/{key}", client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise CiwbError(f"{url}: {exc}") from None


def read_events(sources: Sequence[str | os.PathLike[str]]) -> Iterator[BuildEvent]:
    """Every event in files, gzip files, directories and s3:// prefixes, in order."""
    seq = 0
    for source in sources:
        for origin, data in _blobs(source):
            for line, event in json_documents(_decode(data, origin), origin):
                where = f"{origin}:{line}"
                if not isinstance(event, dict):
                    raise CiwbError(f"{where}: not a JSON object")
                try:
                    record = build_from_event(event)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise CiwbError(f"{where}: not a CodeBuild event: {exc}") from None
                seq += 1
                yield BuildEvent(where, seq, str(event.get("detail-type")), record)


def read_build_events(
    path: str | os.PathLike[str],
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(sequence number, Build record or None, skip reason) per event of one source."""
    for event in read_events([path]):
        yield event.seq, event.record, None if event.record else event.detail_type
