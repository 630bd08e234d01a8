"""CodeBuild's ids and ARNs: how they are built and taken apart.

A build id is `PROJECT:UUID` and a batch id the same; ARNs are
`arn:aws:codebuild:REGION:ACCOUNT:RESOURCE` with RESOURCE `project/NAME`, `build/ID`,
`build-batch/ID`, `report-group/NAME` or `report/GROUP:UUID`. Every place that builds or
splits one goes through here, so the formats are written down once.
"""

from __future__ import annotations

__all__ = [
    "batch_arn",
    "build_arn",
    "build_id",
    "codebuild_arn",
    "default_kms_key_arn",
    "id_of_arn",
    "last_id_part",
    "parse_arn",
    "project_arn",
    "project_of_id",
    "report_arn",
    "report_group_arn",
    "resource_name",
    "role_arn",
]


def codebuild_arn(region: str, account: str, resource: str) -> str:
    """`arn:aws:codebuild:REGION:ACCOUNT:RESOURCE`."""
    return f"arn:aws:codebuild:{region}:{account}:{resource}"


def build_id(project: str, uuid: str) -> str:
    """A build's (or batch's) id: `PROJECT:UUID`."""
    return f"{project}:{uuid}"


def project_of_id(build_or_batch_id: str) -> str:
    """The project name at the front of a build or batch id."""
    return build_or_batch_id.split(":", 1)[0]


def last_id_part(id_or_arn: str) -> str:
    """What follows the last `:` — the UUID of a build/batch id or ARN."""
    return id_or_arn.rsplit(":", 1)[-1]


def project_arn(region: str, account: str, project: str) -> str:
    return codebuild_arn(region, account, f"project/{project}")


def build_arn(region: str, account: str, build: str) -> str:
    """ARN of the build whose id is `build` (`PROJECT:UUID`)."""
    return codebuild_arn(region, account, f"build/{build}")


def batch_arn(region: str, account: str, batch: str) -> str:
    """ARN of the build batch whose id is `batch` (`PROJECT:UUID`)."""
    return codebuild_arn(region, account, f"build-batch/{batch}")


def report_group_arn(region: str, account: str, group: str) -> str:
    return codebuild_arn(region, account, f"report-group/{group}")


def report_arn(region: str, account: str, group: str, uuid: str) -> str:
    return codebuild_arn(region, account, f"report/{group}:{uuid}")


def default_kms_key_arn(region: str, account: str) -> str:
    """The AWS-managed S3 key CodeBuild encrypts with when a project names none."""
    return f"arn:aws:kms:{region}:{account}:alias/aws/s3"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def parse_arn(arn: str) -> tuple[str, str, str]:
    """`arn:aws:codebuild:REGION:ACCOUNT:RESOURCE` → (region, account, resource)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[3], parts[4], parts[5]


def id_of_arn(arn: str) -> str:
    """`…:build/PROJECT:UUID` → `PROJECT:UUID` (builds and batches alike)."""
    _, _, resource = parse_arn(arn)
    return resource.split("/", 1)[1]


def resource_name(arn: str) -> str:
    """What follows the last `/`: a report group's or project's name."""
    return arn.rsplit("/", 1)[-1]
