# The read-only role `ciwb collect --org` assumes in a member account, for teams that deploy
# IAM with Terraform. Apply it in every member account (a provider per account, e.g. one that
# assumes OrganizationAccountAccessRole), or deploy docs/org-role.cfn.yaml to the whole
# organisation with an `aws_cloudformation_stack_set` (docs/scheduling.md, "An organisation").
#
# The policy is exactly `ciwb collect --print-policy` (a test checks it).

variable "tooling_account_id" {
  description = "The account whose scheduled job runs `ciwb collect --org`"
  type        = string
}

variable "role_name" {
  description = "The role name passed as --org-role (ciwb's default is ciwb-reader)"
  type        = string
  default     = "ciwb-reader"
}

data "aws_partition" "current" {}

resource "aws_iam_role" "ciwb_reader" {
  name                 = var.role_name
  description          = "ciwb collect --org reads CodeBuild history with this role"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${var.tooling_account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "ciwb_collect" {
  name   = "ciwb-collect"
  role   = aws_iam_role.ciwb_reader.id
  policy = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "CiwbCollectReadOnly",
          "Effect": "Allow",
          "Action": [
            "cloudwatch:GetMetricData",
            "codebuild:BatchGetBuildBatches",
            "codebuild:BatchGetBuilds",
            "codebuild:BatchGetProjects",
            "codebuild:BatchGetReports",
            "codebuild:DescribeCodeCoverages",
            "codebuild:DescribeTestCases",
            "codebuild:ListBuildBatchesForProject",
            "codebuild:ListBuildsForProject",
            "codebuild:ListProjects",
            "codebuild:ListReportGroups",
            "codebuild:ListReportsForReportGroup",
            "logs:GetLogEvents"
          ],
          "Resource": "*"
        }
      ]
    }
  EOT
}

output "role_arn" {
  value = aws_iam_role.ciwb_reader.arn
}
