"""AWS sessions for the pipeline's AWS clients (S3, Kinesis, SNS, CloudWatch, MSK IAM).

No keys in code or config: boto3's default credential chain (environment, shared profile,
web identity / IRSA, ECS task role, EC2 instance profile) provides the identity. With
`security.aws_role_arn` set, that identity assumes the role (STS AssumeRole) and the
session uses the role's temporary credentials; boto3 refreshes them before they expire.
"""

from __future__ import annotations

import boto3
from botocore.credentials import DeferredRefreshableCredentials, create_assume_role_refresher

from .config import SecurityConfig


def aws_session(sec: SecurityConfig) -> boto3.Session:
    """A boto3 session: the default chain, or the assumed `aws_role_arn` (auto-refreshed)."""
    base = boto3.Session(region_name=sec.aws_region)
    if not sec.aws_role_arn:
        return base
    sts = base.client("sts", endpoint_url=sec.aws_sts_endpoint or None)
    refresh = create_assume_role_refresher(
        sts, {"RoleArn": sec.aws_role_arn, "RoleSessionName": sec.aws_role_session_name}
    )
    session = boto3.Session(region_name=sec.aws_region)
    # botocore's own refreshable credentials: re-assumed shortly before expiry
    session._session._credentials = DeferredRefreshableCredentials(
        refresh_using=refresh, method="assume-role"
    )
    return session
