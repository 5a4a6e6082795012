"""Amazon Bedrock: the endpoint and region a `bedrock` row resolves to, its dialect and auth.

Auth comes in two kinds (reference §8.1). A key, explicit or `BEDROCK_API_KEY`, is a
Bedrock API key and travels as `Authorization: Bearer`; nothing else is needed. Without
one, every request is signed with AWS Signature Version 4 from the standard AWS
credential chain (environment, shared config and credentials files and profiles, SSO,
container and instance roles), which construct reaches through botocore, the optional
extra `construct-llm[bedrock]`. botocore is imported on first need only: `import
construct`, and a Bearer-mode provider, never load it.

The region comes from `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the region of the
active AWS profile (read through botocore, on the first call), then `us-east-1`. An
`api_url` replaces the endpoint; its region is used for signing when its host names one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..auth import Auth, auth_for
from ..auth.aws import AwsSession
from ..dialects.bedrock_converse import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_REGION,
    BedrockConverse,
    BedrockSettings,
    region_from_url,
    runtime_url,
)
from ..options import ProviderRuntimeOptions
from ..registry import Resolved

__all__ = ["BedrockEndpoint", "build", "build_dialect", "endpoint_for"]


class BedrockEndpoint:
    """The runtime endpoint and signing region; the AWS profile is read once, on first need."""

    __slots__ = ("_region", "api_url", "aws")

    def __init__(self, api_url: str | None, region: str | None, aws: AwsSession) -> None:
        # Set when api_url gave the endpoint; None: the region's bedrock-runtime host.
        self.api_url = api_url
        self._region = region
        self.aws = aws

    @property
    def region(self) -> str:
        if self._region is None:
            self._region = self.aws.profile_region() or DEFAULT_REGION
        return self._region

    @property
    def base_url(self) -> str:
        return self.api_url or runtime_url(self.region)


def _env_region(environ: Mapping[str, str]) -> str | None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = environ.get(var, "").strip()
        if value:
            return value
    return None


def endpoint_for(resolved: Resolved, opts: ProviderRuntimeOptions) -> BedrockEndpoint:
    """The `bedrock` row's endpoint: from api_url, else the region's runtime host."""
    spec = resolved.spec
    api_url = resolved.base_url if (opts.provider_api_url or "").strip() else None
    region = (region_from_url(api_url) if api_url else None) or _env_region(os.environ)
    return BedrockEndpoint(api_url, region, AwsSession(spec.name, spec.display_name))


def build_dialect(
    resolved: Resolved, opts: ProviderRuntimeOptions, endpoint: BedrockEndpoint | None = None
) -> BedrockConverse:
    """The Converse dialect for the `bedrock` row."""
    spec = resolved.spec
    settings = BedrockSettings(
        provider=spec.name,
        display_name=spec.display_name,
        default_max_tokens=opts.provider_max_tokens or DEFAULT_MAX_TOKENS,
        key_env=tuple(resolved.key_env),
    )
    return BedrockConverse(settings, endpoint or endpoint_for(resolved, opts))


def build(resolved: Resolved, opts: ProviderRuntimeOptions) -> tuple[BedrockConverse, Auth]:
    """The dialect and the SigV4-or-Bearer auth, sharing one endpoint and AWS session."""
    endpoint = endpoint_for(resolved, opts)
    dialect = build_dialect(resolved, opts, endpoint)
    auth = auth_for(resolved, aws=endpoint.aws, region=lambda: endpoint.region)
    return dialect, auth
