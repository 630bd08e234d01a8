"""The IAM policy collect needs: derived from the calls it makes, shipped in docs/ unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from ciwb.collect import CollectOptions, collect
from ciwb.collect.policy import collect_actions
from support.aws import REGION
from support.collect_history import history

ROOT = Path(__file__).resolve().parents[2]
CIWB = [str(Path(sys.executable).parent / "ciwb")]


def _printed_policy() -> dict:
    result = subprocess.run(
        [*CIWB, "collect", "--print-policy"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short intrinsic tags (!Ref, !Sub, !GetAtt) kept as text."""


_CfnLoader.add_multi_constructor("!", lambda loader, tag, node: f"{tag} {node.value}")


def _cfn_policy() -> dict:
    template = yaml.load((ROOT / "docs/org-role.cfn.yaml").read_text(), Loader=_CfnLoader)
    (policy,) = template["Resources"]["CiwbReader"]["Properties"]["Policies"]
    return policy["PolicyDocument"]


def _tf_policy() -> dict:
    text = (ROOT / "docs/org-role.tf").read_text()
    body = text.split("policy = <<-EOT", 1)[1].split("\n  EOT", 1)[0]
    return json.loads(body)


def test_the_shipped_roles_carry_exactly_the_printed_policy():
    printed = _printed_policy()
    assert printed["Statement"][0]["Action"] == list(collect_actions())
    assert _cfn_policy() == printed
    assert _tf_policy() == printed


def test_the_policy_is_read_only_and_covers_every_call_a_collect_makes(codebuild_server, db_path):
    actions = set(collect_actions())
    assert all(a.split(":")[1].startswith(("Batch", "List", "Describe", "Get")) for a in actions)
    projects, builds = history(200)
    codebuild_server.seed(projects, builds)

    summary = collect(
        CollectOptions(regions=[REGION], db=db_path, logs=True, batches=False, reports=False)
    )

    called = {
        name.replace(".", ":")
        for name in summary.api_calls
        if not name.startswith("sts.")  # GetCallerIdentity needs no permission
    }
    assert {"codebuild:BatchGetBuilds", "logs:GetLogEvents", "cloudwatch:GetMetricData"} <= called
    assert called <= actions
