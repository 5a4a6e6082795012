"""AWS credentials for Bedrock: a Bedrock API key as Bearer, else SigV4 through botocore.

botocore (`construct-llm[bedrock]`) is imported only when a request must be
signed or the AWS profile's region is needed, never for Bearer calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, ConfigError
from .base import Auth

if TYPE_CHECKING:
    from ..secrets import Secret
    from ..transport import HttpRequest

__all__ = ["INSTALL_HINT", "SIGNING_NAME", "AwsSession", "SigV4"]

SIGNING_NAME = "bedrock"
INSTALL_HINT = "pip install 'construct-llm[bedrock]'"


def _import_botocore() -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.exceptions
        import botocore.session
    except ImportError:
        return None
    return botocore


class AwsSession:
    """One botocore session, made on first need: the profile's region and credentials."""

    __slots__ = ("_credentials", "_session", "display_name", "provider")

    def __init__(self, provider: str, display_name: str) -> None:
        self.provider = provider
        self.display_name = display_name
        self._session: Any = None
        self._credentials: Any = None

    def _botocore_session(self) -> Any:
        botocore = _import_botocore()
        if botocore is None:
            return None
        if self._session is None:
            self._session = botocore.session.Session()
        return self._session

    def profile_region(self) -> str | None:
        """The active AWS profile's region, if botocore is there and the profile names one."""
        session = self._botocore_session()
        if session is None:
            return None
        botocore = _import_botocore()
        try:
            region = session.get_config_variable("region")
        except botocore.exceptions.BotoCoreError:
            # A broken or missing profile: the credential lookup reports it, if it matters.
            return None
        return region.strip() if isinstance(region, str) and region.strip() else None

    def frozen_credentials(self, botocore: Any) -> Any:
        """This request's credentials: resolved once, frozen per request so that
        refreshable ones (SSO, assumed roles, instance roles) renew when they expire."""
        name = self.display_name
        try:
            if self._credentials is None:
                self._credentials = self._botocore_session().get_credentials()
            credentials = self._credentials
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except botocore.exceptions.BotoCoreError as exc:
            # Kept unresolved so a fixed profile or a fresh `aws sso login` works next call.
            self._credentials = None
            raise AuthError(
                f"{name}: the AWS credentials could not be loaded: {exc}. Fix the AWS profile "
                "(AWS_PROFILE, ~/.aws/config) or set BEDROCK_API_KEY.",
                provider=self.provider,
            ) from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            self._credentials = None
            raise AuthError(
                f"No credentials for {name}: set BEDROCK_API_KEY (a Bedrock API key, sent "
                "as a Bearer token), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with "
                "AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE to a profile in "
                "~/.aws/config (after `aws sso login` for SSO), or run where an instance or "
                "container role is available.",
                provider=self.provider,
            )
        return frozen


class SigV4(Auth):
    """A Bedrock API key goes as Bearer; without one, each request is SigV4-signed."""

    __slots__ = ("aws", "region")

    signs = True

    def __init__(
        self,
        provider: str,
        display_name: str,
        key_env: Sequence[str],
        required: bool = False,
        *,
        aws: AwsSession,
        region: Callable[[], str],
    ) -> None:
        super().__init__(provider, display_name, key_env, required=False)
        self.aws = aws
        # The signing region, looked up (from the AWS profile, maybe) on first use.
        self.region = region

    def headers(self, key: Secret | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.reveal()}"} if key is not None else {}

    def sign(self, req: HttpRequest, key: Secret | None) -> None:
        """SigV4-sign `req` over its exact body bytes, unless a Bearer key authorises it."""
        if key is not None:
            return
        botocore = _import_botocore()
        if botocore is None:
            raise ConfigError(
                f"{self.display_name} needs a Bedrock API key or AWS credentials. "
                f"Set BEDROCK_API_KEY (or api_key in config.toml) to use a Bedrock API key, or "
                f"`{INSTALL_HINT}` so construct can sign requests with your AWS credentials "
                "(SigV4 needs botocore)."
            )
        credentials = self.aws.frozen_credentials(botocore)
        headers = {}
        if req.content is not None:
            headers["Content-Type"] = req.headers.get("Content-Type", "application/json")
        aws = botocore.awsrequest.AWSRequest(
            method=req.method, url=req.url, headers=headers, data=req.content or b""
        )
        botocore.auth.SigV4Auth(credentials, SIGNING_NAME, self.region()).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = aws.headers.get(name)
            if value is not None:
                req.headers[name] = value
